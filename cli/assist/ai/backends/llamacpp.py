"""`backend = "llamacpp"`: a GGUF model run in this process by llama-cpp-python (the `llm` extra).

One loaded model per process and file, shared by every task and thread (calls are serialised: a
llama.cpp context is not thread-safe). A JSON schema in the options becomes a grammar, so the reply is
JSON of that shape. Token counts come from the model's own vocabulary, loaded alone when only counting.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .base import Completion, Messages, ModelBackend, ModelError, ModelMissing, ModelUnavailable, Options

if TYPE_CHECKING:
    from ...config import Config

REPEAT_PENALTY = 1.2  # llama.cpp's 1.1 lets small models loop until max_tokens, cutting JSON replies short
_loaded: dict[tuple[Any, ...], tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


# Threads, chosen on measurements (bench/threads.py, 2 cores, SmolLM2-135M, tokens/s idle / with two
# busy processes beside it): two threads spinning (OpenMP's default) 156 / 20, two threads waiting
# passively 45 / 93, one thread 140 / 109. A small model gets one thread; a larger one (compute per token
# outweighs the threads' hand-overs) gets every core, waiting passively: Qwen2.5-Coder-1.5B ran 19.0
# tokens/s under load that way, against 6.4 spinning and 15.5 on one thread.
SMALL_MODEL_BYTES = 400_000_000


def default_threads(path: Path) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        small = path.stat().st_size < SMALL_MODEL_BYTES
    except OSError:
        small = True
    return 1 if small else cores


def _load(path: Path, **kwargs: Any) -> tuple[Any, threading.Lock]:
    key = (str(path), tuple(sorted(kwargs.items())))
    with _loading:
        if key not in _loaded:
            # read by OpenMP when llama.cpp's library loads: threads sleep while they wait, so other
            # processes on the machine do not take them down (a user's own setting wins)
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                import llama_cpp
            except ImportError:
                raise ConfigError(["llama-cpp-python is not installed: pip install 'assist[llm]'"]) from None
            from llama_cpp._utils import suppress_stdout_stderr

            try:  # llama.cpp prints load-time warnings to stderr even when not verbose
                with suppress_stdout_stderr(disable=False):
                    model = llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
            except (ValueError, RuntimeError) as exc:  # not a per-task fault: the stage stops, tasks kept
                raise ModelMissing(f"{path}: llama.cpp cannot load it ({exc})") from None
            if not _loaded:
                import atexit

                atexit.register(_close_all)
            _loaded[key] = (model, threading.Lock())
        return _loaded[key]


def _close_all() -> None:
    """Free the models while the interpreter is whole: left to Llama.__del__ during its shutdown, the
    freeing can run after the modules it needs are gone, and print tracebacks."""
    while _loaded:
        _, (model, _lock) = _loaded.popitem()
        with contextlib.suppress(Exception):
            model.close()


# llama-cpp-python's schema converter spells `maxLength: 300` as 300 nested rules, which its grammar
# parser rejects (and then it silently allows any JSON at all). So bounded strings go through the
# converter as a marker and come out as llama.cpp's own `{m,n}` repetition; patterns and formats are left
# to validation. Strings never hold raw control characters (JSON does not allow them). The parser refuses
# a repetition of more than MAX_REPEAT, and the process then died in the sampler (a segmentation fault):
# a longer minLength is asked of the grammar as MAX_REPEAT, and validation checks the rest.
MARKER = re.compile(r'"\\"@@ASSIST_STR_(\d+)_(\d+)@@\\""')
MAX_REPEAT = 2000  # llama.cpp's MAX_REPETITION_THRESHOLD
CHAR_RULE = r'assist-char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'


def _marked(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_marked(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "string" and ("maxLength" in schema or "minLength" in schema):
        low = min(int(schema.get("minLength", 0)), MAX_REPEAT)
        return {"const": f"@@ASSIST_STR_{low}_{max(low, int(schema.get('maxLength', 100_000)))}@@"}
    return {k: _marked(v) for k, v in schema.items() if k not in ("pattern", "format")}


def gbnf(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    text = json_schema_to_gbnf(json.dumps(_marked(schema)))
    text = MARKER.sub(lambda m: f'"\\"" assist-char{{{m[1]},{m[2]}}} "\\"" space', text)
    text = re.sub(r"^char ::= .*$", "char ::= assist-char", text, flags=re.M)
    return text + "\n" + CHAR_RULE + "\n"


_grammars: dict[str, Any] = {}
KEPT_GRAMMARS = 32  # a schema may be a mail's own (the message its actions may name): the latest are kept


def grammar_for(schema: dict[str, Any]) -> Any:
    """The llama.cpp grammar that only lets JSON of the schema's shape through (built once per schema)."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _grammars:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_string(gbnf(schema), verbose=False)
        except Exception as exc:  # the converter and parser raise bare Exceptions
            raise ModelError(f"cannot turn the output schema into a llama.cpp grammar: {exc}") from None
        while len(_grammars) >= KEPT_GRAMMARS:
            del _grammars[next(iter(_grammars))]
        _grammars[key] = grammar
    return _grammars[key]


class LlamaCppBackend(ModelBackend):
    kind = "llamacpp"

    def __init__(self, name: str, spec: dict[str, Any], config: Config):
        from ..pull import CATALOG, DEFAULT, Packaged, best_pulled

        models_dir = config.home / "models"
        # the catalog model this is, if one (`assist models pull` fetches it): with no path, the best one
        # pulled (else the default, missing until pulled); a path may name one ("smollm2-135m")
        if "path" not in spec:  # a model of the catalog whose file is there but damaged is still the home's
            self.catalog: Packaged | None = best_pulled(models_dir) or next(
                (c for c in CATALOG if (models_dir / c.file).is_file()), DEFAULT)
        else:
            self.catalog = next((c for c in CATALOG if c.name == spec["path"]), None)
        if self.catalog is not None:
            spec = {"context": self.catalog.context, "json_grammar": self.catalog.json_grammar,
                    "tags": list(self.catalog.tags), **spec, "path": self.catalog.file}
        else:
            self.catalog = next((c for c in CATALOG if c.file == Path(str(spec["path"])).name), None)
        super().__init__(name, spec, config)
        path = Path(os.path.expanduser(str(spec["path"])))
        self.path = path if path.is_absolute() else models_dir / path
        self.threads = int(spec.get("threads", 0)) or None
        self.json_grammar = str(spec.get("json_grammar", "always"))
        if self.json_grammar not in ("always", "fallback"):
            raise ConfigError([f"models.{name}.json_grammar: {self.json_grammar!r} is not always or fallback"])

    @property
    def model_id(self) -> str:
        return self.path.name

    def _missing(self) -> ModelMissing:
        hint = f" (run `assist models pull {self.catalog.name}`)" if self.catalog else ""
        return ModelMissing(f"model {self.name}: {self.path} is missing{hint}")

    def _check_file(self) -> None:
        """The model's file is there and, as far as can be told without reading it all, whole: a catalog
        model's size, and a GGUF file's first bytes. Damaged (a copy cut short, a disk's bad sector),
        it is ModelMissing too: no task can succeed with it, so the stage stops and keeps them."""
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as handle:
                magic = handle.read(4)
        except FileNotFoundError:
            raise self._missing() from None
        except OSError as exc:
            raise ModelMissing(f"model {self.name}: {self.path} cannot be read ({exc.strerror})") from None
        if self.catalog is not None and self.catalog.file == self.path.name and size != self.catalog.size:
            raise self._damaged(f"{size:,} bytes, not the {self.catalog.size:,} it has when pulled")
        if magic != b"GGUF":
            raise self._damaged("it does not start as a GGUF file does")

    def _damaged(self, why: str) -> ModelMissing:
        again = f": run `assist models pull {self.catalog.name}` again" if self.catalog else ""
        return ModelMissing(f"model {self.name}: {self.path} is damaged ({why}){again}")

    def _load_checked(self, **kwargs: Any) -> tuple[Any, threading.Lock]:
        self._check_file()
        try:
            return _load(self.path, **kwargs)
        except ModelMissing as exc:
            again = f" (if it is damaged: `assist models pull {self.catalog.name}` again)" if self.catalog else ""
            raise ModelMissing(f"model {self.name}: {exc}{again}") from None

    def model(self) -> tuple[Any, threading.Lock]:
        return self._load_checked(n_ctx=self.context, n_threads=self.threads or default_threads(self.path))

    def _vocab(self) -> tuple[Any, threading.Lock]:
        for (path, _), loaded in _loaded.items():
            if path == str(self.path):
                return loaded
        return self._load_checked(vocab_only=True)

    def count_tokens(self, text: str) -> int:
        model, lock = self._vocab()
        with lock:
            return len(model.tokenize(text.encode(), add_bos=False, special=False))

    def _kwargs(self, messages: Messages, options: Options, stream: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"messages": messages, "temperature": options.temperature,
                                  "max_tokens": options.max_tokens, "stream": stream,
                                  "repeat_penalty": float(self.spec.get("repeat_penalty", REPEAT_PENALTY))}
        if options.stop:
            kwargs["stop"] = options.stop
        if options.schema is not None:
            kwargs["grammar"] = grammar_for(options.schema)
        if "seed" in self.spec:
            kwargs["seed"] = int(self.spec["seed"])
        return kwargs

    def complete(self, messages: Messages, options: Options) -> Completion:
        """The reply; with a schema, JSON of that shape. `json_grammar = "fallback"` (the 1.5B catalog model's
        default) lets the model write it unforced first, which costs no speed, and forces it with the
        grammar only when that reply does not parse and validate: the grammar over a 151k-token vocabulary
        cost the 1.5B model about 30% of its speed (scripts/bench run), and it wrote valid JSON unforced for
        every mail of the quality set."""
        if options.schema is None or self.json_grammar == "always":
            return self._complete(messages, options)
        from .. import output

        free = self._complete(messages, replace(options, schema=None))
        try:
            output.parse(free.text, options.schema)
            return free
        except output.OutputError:
            forced = self._complete(messages, options)
            forced.prompt_tokens += free.prompt_tokens
            forced.completion_tokens += free.completion_tokens
            if forced.model_ms is not None and free.model_ms is not None:
                forced.model_ms += free.model_ms
            return forced

    def _complete(self, messages: Messages, options: Options) -> Completion:
        model, lock = self.model()
        with lock:
            started = time.perf_counter()
            try:
                out = model.create_chat_completion(**self._kwargs(messages, options, False))
            except ValueError as exc:  # llama.cpp's "Requested tokens exceed context window"
                raise ModelError(f"model {self.name}: {exc}") from None
            model_ms = (time.perf_counter() - started) * 1000
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "",
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)),
                          finish_reason=choice.get("finish_reason") or "stop", model_ms=model_ms)

    def stream(self, messages: Messages, options: Options) -> Generator[str, None, str]:
        model, lock = self.model()
        ended = "stop"
        with lock:
            try:
                for chunk in model.create_chat_completion(**self._kwargs(messages, options, True)):
                    choice = chunk["choices"][0]
                    ended = choice.get("finish_reason") or ended
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield piece
            except ValueError as exc:
                raise ModelError(f"model {self.name}: {exc}") from None
        return ended

    def health(self) -> None:
        self._check_file()
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ModelUnavailable(f"model {self.name}: llama-cpp-python is not installed "
                                   "(pip install 'assist[llm]')") from None

