"""The offline MiniLM embedder against sentence-transformers' own embeddings (tests/fixtures/minilm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from assist.decide import int8_matmul
from assist.decide.embedder import Embedder, _verify
from assist.errors import ConfigError

REFERENCE = Path(__file__).parent / "fixtures" / "minilm" / "reference.jsonl"


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_cosine_with_the_reference_embeddings_is_at_least_0_99(embedder):
    exact = int8_matmul.integer_products_are_exact()  # AVX-512 VNNI here: integer products
    assert embedder.identity.endswith("/int8" if exact else "/float")
    rows = [orjson.loads(line) for line in REFERENCE.read_bytes().splitlines()]
    assert len(rows) == 20
    ours = embedder.embed([r["text"] for r in rows])
    for row, vector in zip(rows, ours, strict=True):
        ref = np.array(row["embedding"], dtype=np.float32)
        cosine = float(vector @ ref / np.linalg.norm(ref))
        assert cosine >= 0.99, (row["text"], cosine)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batches_give_the_same_vectors_as_single_texts(embedder):
    texts = ["turn off the lights", "what is on my calendar tomorrow", "", "x " * 1000]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6)  # integer products: a run per text


def test_a_model_file_that_does_not_match_its_pinned_hash_is_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="is not the pinned"):
        _verify(fake, "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
