"""`backend = "openai"`: any server with the OpenAI chat API on this machine (LM Studio, llama.cpp's
server, vLLM, LocalAI), or a remote one (Groq, OpenRouter) when `allow_remote = true`."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import orjson

from .base import Completion, Messages, ModelError, ModelUnavailable, Options, compilable
from .http import HttpBackend


class OpenAIBackend(HttpBackend):
    kind = "openai"
    default_url = "http://127.0.0.1:8080/v1"

    def _body(self, messages: Messages, options: Options, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_id, "messages": messages, "temperature": options.temperature,
                                "max_tokens": options.max_tokens, "stream": stream}
        if options.stop:
            body["stop"] = options.stop
        if options.schema is not None:
            mode = self.spec.get("json_mode", "json_schema")
            schema = compilable(options.schema)
            if mode == "json_schema":
                body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
            elif mode == "json_object":  # llama.cpp's server: a schema inside json_object
                body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def complete(self, messages: Messages, options: Options) -> Completion:
        reply = self.request("POST", "/chat/completions", json=self._body(messages, options, False))
        try:
            data = reply.json()
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return Completion(text=choice["message"].get("content") or "",
                              prompt_tokens=int(usage.get("prompt_tokens", 0)),
                              completion_tokens=int(usage.get("completion_tokens", 0)),
                              finish_reason=choice.get("finish_reason") or "stop")
        except (ValueError, KeyError, IndexError, TypeError):
            raise ModelError(f"model {self.name}: unexpected reply from {self.shown}") from None

    def stream(self, messages: Messages, options: Options) -> Generator[str, None, str]:
        reply = self.request("POST", "/chat/completions", json=self._body(messages, options, True), stream=True)
        ended = "stop"
        with reply:
            try:
                for line in reply.iter_lines():
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        return ended
                    choice = orjson.loads(payload)["choices"][0]
                    ended = choice.get("finish_reason") or ended
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield piece
            except (orjson.JSONDecodeError, KeyError, IndexError):
                raise ModelError(f"model {self.name}: unexpected stream from {self.shown}") from None
            except OSError as exc:
                raise ModelUnavailable(f"model {self.name}: stream from {self.shown} broke off ({exc})") from None
        return ended

    def health(self) -> None:
        self.request("GET", "/models", timeout_s=min(self.timeout_s, 5.0))
