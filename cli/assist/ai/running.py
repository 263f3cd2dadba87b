"""Running a task's prompt (`assist run`): the first model of the chain that answers, its reply parsed
and validated, one repair round when it is not what the template asked for.

A model that cannot be reached or times out is marked down and the next one is tried; when none
answers, the task is retried later (a temporary error), so nothing is lost while a server is down. When
none answers because every model's file is missing (none pulled yet), that is ModelMissing: the stage
stops and keeps its tasks, since no retry can succeed before the user pulls one. A
reply that is still wrong after the repair round fails the task with the validation error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import PermanentError, TemporaryError
from . import output
from .backends.base import Completion, ModelBackend, ModelError, ModelMissing, ModelUnavailable, Options
from .models import Models


def _ask(backend: ModelBackend, messages: list[dict[str, str]], options: Options,
         on_piece: Callable[[str], None] | None) -> Completion:
    """The model's reply, its text valid UTF-8 (a server's JSON can carry lone surrogates: writable). The
    model is given no control token the messages spell (a mail's, or a reply's in the repair round)."""
    from ..jsonl import writable
    from .control_tokens import messages_as_text

    messages = messages_as_text(messages)

    if on_piece is None:
        reply = backend.complete(messages, options)
        reply.text = writable(reply.text)
        return reply
    pieces = []
    stream = backend.stream(messages, options)
    while True:
        try:
            piece = writable(next(stream))
        except StopIteration as ended:  # the stream's return value: why the reply ended
            finish_reason = ended.value or "stop"
            break
        on_piece(piece)
        pieces.append(piece)
    text = "".join(pieces)
    return Completion(text=text, prompt_tokens=backend.count_messages(messages),
                      completion_tokens=backend.count_tokens(text), finish_reason=finish_reason)


def run_prompt(prompt: dict[str, Any], models: Models,
               on_piece: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The `result` section for a task's `prompt` section."""
    schema = prompt.get("schema")
    settings = prompt.get("options") or {}
    options = Options(temperature=float(settings.get("temperature", 0.0)),
                      max_tokens=int(settings.get("max_tokens", 256)), schema=schema)
    messages = list(prompt["messages"])
    tried: list[dict[str, str]] = []
    missing = 0  # of the models tried, how many have no file
    for backend in models.candidates(prompt.get("model"), prompt.get("tags")):
        started = time.perf_counter()
        try:
            if backend.name != prompt.get("model"):  # the prompt was fitted to its own model, not this one
                needed = backend.count_messages(messages) + options.max_tokens
                if needed > backend.context:
                    tried.append({"model": backend.name, "error": f"prompt needs {needed} tokens, context is "
                                                                  f"{backend.context}"})
                    continue
            reply = _ask(backend, messages, options, on_piece)
        except ModelUnavailable as exc:
            models.mark_down(backend.name, str(exc))
            tried.append({"model": backend.name, "error": str(exc)})
            missing += isinstance(exc, ModelMissing)
            continue
        models.mark_up(backend.name)
        result: dict[str, Any] = {"backend": backend.kind, "model": backend.name, "model_id": backend.model_id}
        prompt_tokens, completion_tokens = reply.prompt_tokens, reply.completion_tokens
        model_ms = reply.model_ms
        parsed: Any = None
        if schema is not None or prompt.get("parse"):
            try:
                parsed = output.parse(reply.text, schema)
            except output.OutputError as first:
                retry = [*messages, {"role": "assistant", "content": reply.text},
                         output.repair_message(first, schema or {})]
                try:
                    second = _ask(backend, retry, options, on_piece)
                except (ModelUnavailable, ModelError) as exc:
                    raise TemporaryError(f"model {backend.name}: repair round failed: {exc}") from None
                prompt_tokens += second.prompt_tokens
                completion_tokens += second.completion_tokens
                if model_ms is not None and second.model_ms is not None:
                    model_ms += second.model_ms
                result["repaired"] = True
                try:
                    parsed = output.parse(second.text, schema)
                except output.OutputError as again:
                    raise PermanentError(f"model {backend.name} replied with unusable JSON twice: {again}") from None
                reply = second
        ms = (time.perf_counter() - started) * 1000
        result.update(text=reply.text, parsed=parsed, finish_reason=reply.finish_reason,
                      usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
                      ms=round(ms, 1), model_ms=round(model_ms if model_ms is not None else ms, 1))
        if tried:
            result["fallbacks"] = tried
        return result
    said = "no model answered: " + "; ".join(t["error"] for t in tried)[:400]
    raise ModelMissing(said) if tried and missing == len(tried) else TemporaryError(said)
