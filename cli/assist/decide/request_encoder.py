"""The encoder of typed requests: the packaged all-MiniLM-L6-v2 graph with its six layers tuned to tell
the request routes apart.

Tuned on the packaged request examples (decide/requests.py), the encoder routes 1.3 points more of
SLURP's requests right (90.8% against 89.5%, cross-validated on three fold splits with the encoder tuned
per fold: bench/README.md, ask). The tuning ships as low-rank adapters (LoRA): for each of the 36 weight matrices
W of the six layers, two small matrices A (rank x in) and B (out x rank) with W' = W + B A, and the
layers' new biases and LayerNorms: decide/data/request-encoder.npz, made by scripts/tune-request-encoder
(torch, at development time). `tuned` adds them to the packaged graph's int8 weights and quantizes the sum
again as the graph stores it (int8, one scale per column); the graph is made once and cached
(encoder_cache.py). The adapters fit only the packaged graph they were made on (its sha256 is in the
file): with `[classify] encoder` set, requests use that encoder as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ADAPTERS = Path(__file__).parent / "data" / "request-encoder.npz"
VERSION = 1  # of the way adapters are applied: a change to it makes new cached files
# The int8 products of the packaged graph, in its order: six layers of these (BERT's names).
ROLES = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
         "intermediate.dense", "output.dense")


def adapters_id(adapters: Path = ADAPTERS) -> str:
    from .encoder_cache import file_sha256

    return file_sha256(adapters)


def tuned(source: Path, sha256: str, integer: bool, check: Callable[[], None] | None = None,
          adapters: Path = ADAPTERS) -> tuple[Path | bytes, str]:
    """The packaged graph `source` (content sha256) with the adapters applied and, when `integer`, its
    products made integer (int8_matmul), from the cache or made now (after `check()`, which raises if the
    source is not what it should be); and its identity."""
    from .encoder_cache import kept
    from .int8_matmul import VERSION as REWRITE

    made = adapters_id(adapters)

    def make() -> bytes:
        if check is not None:
            check()
        model = apply(source, sha256, adapters)
        if integer:
            from .int8_matmul import rewrite_model

            rewrite_model(model)
        return model.SerializeToString()

    kind = "int8" if integer else "float"
    stem = f"{sha256[:32]}-requests-{made[:16]}-v{VERSION}-{kind}{REWRITE if integer else ''}"
    graph = kept(stem, make, stale=f"{sha256[:32]}-requests-*", what="the request encoder")
    assert graph is not None  # make() always returns a graph
    return graph, f"{sha256[:16]}+{made[:8]}/{kind}"


def apply(source: Path, sha256: str, adapters: Path) -> Any:
    """The onnx ModelProto of `source` (content sha256) with the adapters' low-rank products added to its
    int8 weight matrices (quantized again per column) and its biases and LayerNorms replaced."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ConfigError(["the intent model needs the classify extra: pip install 'assist[classify]'"]) from None
    import numpy as np

    from .int8_matmul import int8_products

    with np.load(adapters) as data:
        parts = {key: data[key] for key in data.files}
    fitted = str(parts.pop("source", ""))
    if fitted != sha256:
        raise ConfigError([f"{adapters} was made for the encoder {fitted[:16] or '(unnamed)'}, "
                           f"not {source} ({sha256[:16]})"])
    model = onnx.load(str(source))
    weights = {init.name: init for init in model.graph.initializer}
    products = int8_products(model.graph)
    if len(products) != 6 * len(ROLES):
        raise ConfigError([f"{source}: {len(products)} int8 weight matrices, not all-MiniLM-L6-v2's 36"])
    for n, (int8_name, scale_name) in enumerate(products):
        name = f"encoder.layer.{n // len(ROLES)}.{ROLES[n % len(ROLES)]}"
        stored, scale = (numpy_helper.to_array(weights[k]) for k in (int8_name, scale_name))
        if f"{name}.a" not in parts or f"{name}.b" not in parts:
            raise ConfigError([f"{adapters}: no adapter for {name}"])
        change = (parts.pop(f"{name}.b").astype(np.float32) @ parts.pop(f"{name}.a").astype(np.float32)).T
        if change.shape != stored.shape:
            raise ConfigError([f"{adapters}: {name} is {change.shape}, the graph's {int8_name} {stored.shape}"])
        matrix = stored.astype(np.float32) * scale.reshape(1, -1) + change
        columns = np.abs(matrix).max(axis=0) / 127.0
        columns[columns == 0] = 1.0
        weights[int8_name].CopyFrom(numpy_helper.from_array(
            np.clip(np.rint(matrix / columns), -127, 127).astype(np.int8), int8_name))
        weights[scale_name].CopyFrom(numpy_helper.from_array(
            columns.astype(np.float32).reshape(scale.shape), scale_name))
    for name, value in parts.items():  # biases and LayerNorms, by the graph's names
        if name not in weights or tuple(weights[name].dims) != value.shape:
            raise ConfigError([f"{adapters}: {name} {value.shape} is not a tensor of {source}"])
        weights[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    return model
