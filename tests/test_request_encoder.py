"""The encoder of typed requests (assist.decide.request_encoder): low-rank adapters added to the packaged
graph's int8 weights, the graph cached, the engine using it for requests only, and the shipped adapters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from assist.config import Config
from assist.decide import request_encoder
from assist.decide.embedder import MODEL_SHA256, Embedder, default_model
from assist.decide.engine import DecisionEngine
from assist.decide.int8_matmul import int8_products
from assist.errors import ConfigError
from conftest import jsonl, run

RNG = np.random.default_rng(11)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "assist" / "encoders"


def small_adapters(path: Path, source: str = MODEL_SHA256, scale: float = 0.02) -> dict[str, np.ndarray]:
    """Rank-2 adapters for every weight matrix of the packaged graph, and one bias replaced."""
    parts: dict[str, np.ndarray] = {"source": np.array(source)}
    for layer in range(6):
        for role in request_encoder.ROLES:
            width_in, width_out = (1536, 384) if role == "output.dense" else \
                (384, 1536) if role == "intermediate.dense" else (384, 384)
            parts[f"encoder.layer.{layer}.{role}.a"] = RNG.normal(scale=scale, size=(2, width_in)).astype(np.float16)
            parts[f"encoder.layer.{layer}.{role}.b"] = RNG.normal(scale=scale, size=(width_out, 2)).astype(np.float16)
    parts["inner.encoder.layer.5.output.LayerNorm.bias"] = RNG.normal(size=384).astype(np.float32)
    with open(path, "wb") as handle:
        np.savez(handle, **parts)
    return parts


def test_the_adapters_are_added_to_each_int8_matrix_and_quantized_again(tmp_path):
    parts = small_adapters(tmp_path / "adapters.npz")
    source = default_model()
    before = onnx.load(str(source)).graph
    after = request_encoder.apply(source, MODEL_SHA256, tmp_path / "adapters.npz").graph
    old = {i.name: numpy_helper.to_array(i) for i in before.initializer}
    new = {i.name: numpy_helper.to_array(i) for i in after.initializer}
    products = int8_products(before)
    assert len(products) == 36 and int8_products(after) == products
    for n, (q, s) in enumerate(products):
        name = f"encoder.layer.{n // 6}.{request_encoder.ROLES[n % 6]}"
        expected = old[q].astype(np.float32) * old[s] + (parts[f"{name}.b"].astype(np.float32)
                                                         @ parts[f"{name}.a"].astype(np.float32)).T
        got = new[q].astype(np.float32) * new[s]
        assert new[q].dtype == np.int8 and new[s].shape == old[s].shape
        assert np.all(np.abs(got - expected) <= new[s] / 2 + 1e-7)  # within half a step of its column
        assert not np.array_equal(new[q], old[q])
    bias = "inner.encoder.layer.5.output.LayerNorm.bias"
    assert np.array_equal(new[bias], parts[bias]) and not np.array_equal(old[bias], parts[bias])
    assert np.array_equal(new["inner.encoder.layer.4.output.LayerNorm.bias"],
                          old["inner.encoder.layer.4.output.LayerNorm.bias"])


def test_adapters_made_for_another_graph_or_incomplete_are_refused(tmp_path):
    small_adapters(tmp_path / "other.npz", source="0" * 64)
    with pytest.raises(ConfigError, match="made for the encoder 0000000000000000"):
        request_encoder.apply(default_model(), MODEL_SHA256, tmp_path / "other.npz")
    parts = small_adapters(tmp_path / "short.npz")
    del parts["encoder.layer.3.attention.self.key.b"]
    with open(tmp_path / "short.npz", "wb") as handle:
        np.savez(handle, **parts)
    with pytest.raises(ConfigError, match=r"no adapter for encoder\.layer\.3\.attention\.self\.key"):
        request_encoder.apply(default_model(), MODEL_SHA256, tmp_path / "short.npz")


def test_the_tuned_graph_is_made_once_and_an_earlier_one_is_removed(tmp_path, cache, monkeypatch):
    first_adapters = tmp_path / "first.npz"
    small_adapters(first_adapters)
    tuned = Embedder(adapters=first_adapters)
    plain = Embedder()
    assert isinstance(tuned.path, Path) and tuned.path.parent == cache
    assert tuned.identity.startswith(f"{MODEL_SHA256[:16]}+{request_encoder.adapters_id(first_adapters)[:8]}/")
    assert tuned.identity != plain.identity
    text = ["what is on my calendar this week"]
    vector = tuned.embed(text)
    assert float((vector @ plain.embed(text).T)[0, 0]) < 0.999  # the adapters change the vectors

    def never(*args: object) -> None:
        raise AssertionError("made again")

    with monkeypatch.context() as patched:
        patched.setattr(request_encoder, "apply", never)
        again = Embedder(adapters=first_adapters)
    assert again.path == tuned.path and np.allclose(again.embed(text), vector, atol=1e-6)

    second_adapters = tmp_path / "second.npz"
    small_adapters(second_adapters)
    newer = Embedder(adapters=second_adapters)
    assert newer.path != tuned.path and not Path(tuned.path).exists()  # the earlier adapters' graph is gone
    assert Path(newer.path).exists()


def test_requests_use_the_tuned_encoder_and_mail_the_packaged_one(tmp_path):
    engine = DecisionEngine(Config(home=tmp_path, path=None))
    assert engine.request_embedder().identity.startswith(
        f"{MODEL_SHA256[:16]}+{request_encoder.adapters_id()[:8]}/")
    assert engine.embedder().identity.startswith(f"{MODEL_SHA256[:16]}/")


def test_another_encoder_is_used_for_requests_as_it_is(tmp_path):
    from helpers.encoders import float_encoder

    float_encoder(tmp_path / "encoder.onnx")
    engine = DecisionEngine(Config(home=tmp_path, path=None,
                                   raw={"classify": {"encoder": str(tmp_path / "encoder.onnx")}}))
    assert engine.request_embedder() is engine.embedder()


def test_the_shipped_adapters_pull_a_routes_requests_together_and_apart_from_others():
    """What tuning is for: requests of the same route closer, of different routes further apart than
    with the packaged encoder (mean cosine over a few pairs no example file holds)."""
    agenda = ["what have I got on thursday afternoon", "am I free on the twelfth", "show my plans for tomorrow"]
    weather = ["will it rain in Lisbon tomorrow", "how cold is it outside", "do I need sunglasses today"]
    mail = ["did Peter answer my message", "any new emails from the bank", "check if the landlord wrote back"]
    plain, tuned = Embedder(), Embedder(adapters=request_encoder.ADAPTERS)

    def margins(embedder: Embedder) -> float:
        groups = [embedder.embed(g) for g in (agenda, weather, mail)]
        within = np.mean([float(np.mean(g @ g.T)) for g in groups])
        across = np.mean([float(np.mean(a @ b.T)) for i, a in enumerate(groups) for b in groups[i + 1:]])
        return within - across

    assert margins(tuned) > margins(plain) + 0.03  # 0.43 against 0.36 with the shipped adapters


def test_the_default_request_routes_take_the_requests_the_blueprint_names(routed_home):
    """Through `assist classify` with the default assist.toml: wordings of the blueprint's requests that
    no example holds as they are (the examples have "summarise my day", "what's next")."""
    expected = {"summarize my day": "agenda", "what is next": "agenda", "summarize my calendar week": "agenda",
                "add lunch with Ana on Friday at 1pm": "calendar_edit", "find my notes about the boiler": "find_notes",
                "draft an email to bob about the invoice": "draft_email", "did the bank write to me": "search_mail",
                "make a note to buy light bulbs": "note", "tell me a joke": "chat",
                "will it rain in paris tomorrow": "chat"}
    requests = [{"type": "request", "data": {"text": text}} for text in expected]
    result = run(["classify"], input=jsonl(*requests), timeout=300)
    assert result.code == 0, result.err
    routed = {task["data"]["text"]: task["intent"]["route"] for task in map(json.loads, result.out.splitlines())}
    assert routed == expected


def test_without_the_adapters_requests_use_the_encoder_untuned_and_say_so(tmp_path, monkeypatch, capsys):
    from assist.decide import embedder

    monkeypatch.setattr(request_encoder, "ADAPTERS", tmp_path / "gone.npz")
    embedder._tuned_for_requests.cache_clear()
    try:
        engine = DecisionEngine(Config(home=tmp_path, path=None))
        assert engine.request_embedder() is engine.embedder()
        assert "gone.npz is missing: typed requests use the encoder untuned" in capsys.readouterr().err
    finally:
        embedder._tuned_for_requests.cache_clear()
