"""What every model backend offers: `complete`, `stream`, `health` and token counting.

Errors: `ModelUnavailable` (connection refused, timeout, 429/5xx after retries: try another model or
later), `ModelMissing` (a local model file is not there: only the user can fix that, `assist models pull`)
and `ModelError` (the request itself is wrong: retrying will not help).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import UNAVAILABLE, PermanentError, TemporaryError

if TYPE_CHECKING:
    from ...config import Config

Messages = list[dict[str, str]]


class ModelUnavailable(TemporaryError):
    """The model could not be reached or did not answer in time."""


class ModelMissing(ModelUnavailable):
    """A local model's file is not there. Another model of the chain may still answer; when none does, the
    stage stops (exit 69) and keeps its tasks as they were, rather than retrying each until it fails: no
    task can succeed until the user pulls the model."""

    exit_code = UNAVAILABLE


class ModelError(PermanentError):
    """The model refused the request (bad request, unknown model, prompt too long)."""


@dataclass
class Options:
    temperature: float = 0.0
    max_tokens: int = 256
    schema: dict[str, Any] | None = None  # constrain the reply to JSON of this shape, where the backend can
    stop: list[str] = field(default_factory=list)


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    model_ms: float | None = None  # the model's own time, without waiting for a shared model (in process)


class ModelBackend:
    kind = "base"

    def __init__(self, name: str, spec: dict[str, Any], config: Config):
        self.name = name
        self.spec = spec
        self.config = config
        self.context = int(spec.get("context", 2048))
        self.tags: list[str] = list(spec.get("tags", []))

    @property
    def model_id(self) -> str:
        """What the backend calls the model (a file name, a server-side model name)."""
        return str(self.spec.get("model", self.name))

    def complete(self, messages: Messages, options: Options) -> Completion:
        raise NotImplementedError

    def stream(self, messages: Messages, options: Options) -> Generator[str, None, str]:
        """The reply in pieces as they are generated, and in the end (the generator's return value) why it
        ended: "stop", or "length" at max_tokens. The default yields the whole reply at once."""
        reply = self.complete(messages, options)
        yield reply.text
        return reply.finish_reason

    def health(self) -> None:
        """Return if the model can answer now; raise ModelUnavailable (with the reason) otherwise."""
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        """Tokens in `text`. Backends without a tokenizer at hand over-estimate (a token per 3 bytes), so
        a prompt judged to fit does fit."""
        return math.ceil(len(text.encode()) / 3)

    def count_messages(self, messages: Messages) -> int:
        """Tokens of a chat, with a few per message for the chat template's markers."""
        return sum(self.count_tokens(m["content"]) + 6 for m in messages) + 3


# what a server's grammar compiler may choke on: llama.cpp's server spells a `maxLength` as one rule per
# character and crashed ("failed to parse grammar") on the reply-draft template's schema
LOOSE_KEYWORDS = ("maxLength", "minLength", "pattern", "format")


def compilable(schema: Any) -> Any:
    """The schema a server builds its grammar from: the same shape without length limits, patterns and
    formats. The reply is still checked against the whole schema (ai/output.py), and repaired once."""
    if isinstance(schema, list):
        return [compilable(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: compilable(v) for k, v in schema.items() if k not in LOOSE_KEYWORDS}
