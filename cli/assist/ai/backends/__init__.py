"""Model backends, one module each behind the interface in `base`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import ModelBackend

if TYPE_CHECKING:
    from ...config import Config

KINDS = ("llamacpp", "openai", "ollama")


def make(name: str, spec: dict[str, Any], config: Config) -> ModelBackend:
    """The backend for `[models.NAME]` (already validated by `assist config check`)."""
    kind = spec["backend"]
    if kind == "llamacpp":
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(name, spec, config)
    if kind == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(name, spec, config)
    if kind == "ollama":
        from .ollama import OllamaBackend

        return OllamaBackend(name, spec, config)
    raise ValueError(f"unknown backend {kind!r}")
