"""`backend = "ollama"`: Ollama's own API (`/api/chat`, `/api/tags`). `num_ctx` is set per request from
the prompt's token count plus the reply's budget, so a small prompt does not pay for a large context."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import orjson

from .base import Completion, Messages, ModelError, ModelUnavailable, Options, compilable
from .http import HttpBackend

CTX_STEP = 512


class OllamaBackend(HttpBackend):
    kind = "ollama"
    default_url = "http://127.0.0.1:11434"

    def num_ctx(self, messages: Messages, options: Options) -> int:
        needed = self.count_messages(messages) + options.max_tokens
        rounded = -(-needed // CTX_STEP) * CTX_STEP
        return min(max(rounded, CTX_STEP), self.context)

    def _body(self, messages: Messages, options: Options, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id, "messages": messages, "stream": stream,
            "options": {"temperature": options.temperature, "num_predict": options.max_tokens,
                        "num_ctx": self.num_ctx(messages, options)},
        }
        if options.stop:
            body["options"]["stop"] = options.stop
        if options.schema is not None:
            body["format"] = compilable(options.schema)
        return body

    def complete(self, messages: Messages, options: Options) -> Completion:
        reply = self.request("POST", "/api/chat", json=self._body(messages, options, False))
        try:
            data = reply.json()
            return Completion(text=data["message"]["content"], prompt_tokens=int(data.get("prompt_eval_count", 0)),
                              completion_tokens=int(data.get("eval_count", 0)),
                              finish_reason=data.get("done_reason") or "stop")
        except (ValueError, KeyError, TypeError):
            raise ModelError(f"model {self.name}: unexpected reply from {self.shown}") from None

    def stream(self, messages: Messages, options: Options) -> Generator[str, None, str]:
        reply = self.request("POST", "/api/chat", json=self._body(messages, options, True), stream=True)
        with reply:
            try:
                for line in reply.iter_lines():
                    if not line:
                        continue
                    data = orjson.loads(line)
                    piece = (data.get("message") or {}).get("content")
                    if piece:
                        yield piece
                    if data.get("done"):
                        return str(data.get("done_reason") or "stop")
            except (orjson.JSONDecodeError, AttributeError):
                raise ModelError(f"model {self.name}: unexpected stream from {self.shown}") from None
            except OSError as exc:
                raise ModelUnavailable(f"model {self.name}: stream from {self.shown} broke off ({exc})") from None
        return "stop"

    def health(self) -> None:
        reply = self.request("GET", "/api/tags", timeout_s=min(self.timeout_s, 5.0))
        try:
            names = {m["name"] for m in reply.json().get("models", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ModelUnavailable(f"model {self.name}: unexpected /api/tags reply from {self.shown}") from None
        wanted = self.model_id
        if wanted not in names and f"{wanted}:latest" not in names:
            raise ModelUnavailable(f"model {self.name}: {self.shown} does not have {wanted!r} "
                                   f"(has: {', '.join(sorted(names)) or 'none'}); run `ollama pull {wanted}`")
