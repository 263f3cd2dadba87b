"""What `assist config check` verifies about models and routes beyond the schema: every model a route
names exists, remote endpoints are allowed, and every template a route names exists and parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..net import is_loopback


def problems(raw: dict[str, Any], home: Path) -> list[str]:
    from . import templates
    from .models import DEFAULT_MODELS

    out: list[str] = []
    models = raw.get("models") or DEFAULT_MODELS
    allow_remote = bool(raw.get("allow_remote", False))
    for name, spec in models.items():
        url = spec.get("url")
        if url and not is_loopback(urlsplit(url).hostname or "") and not allow_remote:
            out.append(f"models.{name}.url: {url} is not on this machine; set allow_remote = true to use it")
    memory_url = raw.get("memory", {}).get("url")
    if memory_url and not is_loopback(urlsplit(memory_url).hostname or "") and not allow_remote:
        out.append(f"memory.url: {memory_url} is not on this machine; set allow_remote = true to use it")
    fallback = raw.get("classify", {}).get("fallback_model")
    if fallback and fallback not in models:
        out.append(f"classify.fallback_model: no model {fallback!r} (configured: {', '.join(models)})")
    for name, route in raw.get("routes", {}).items():
        model = route.get("model")
        if model and model != "default" and model not in models:
            out.append(f"routes.{name}.model: no model {model!r} (configured: {', '.join(models)})")
        if route.get("template"):
            try:
                templates.load(route["template"], home)
            except ConfigError as exc:
                out += [f"routes.{name}.template: {p}" for p in exc.problems]
    return out
