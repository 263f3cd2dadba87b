"""What `assist config check` verifies about models and routes beyond the schema: every model a route
names exists, remote endpoints are allowed, and every template a route names exists and parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..net import remote_problem


def problems(raw: dict[str, Any], home: Path) -> list[str]:
    from . import templates
    from .models import DEFAULT_MODELS

    out: list[str] = []
    models = raw.get("models") or DEFAULT_MODELS
    allow_remote = bool(raw.get("allow_remote", False))
    urls = [(f"models.{name}.url", spec.get("url")) for name, spec in models.items()]
    urls.append(("memory.url", raw.get("memory", {}).get("url")))
    out += [problem for key, url in urls if url and (problem := remote_problem(url, allow_remote, key))]
    fallback = raw.get("classify", {}).get("fallback_model")
    if fallback and fallback not in models:
        out.append(f"classify.fallback_model: no model {fallback!r} (configured: {', '.join(models)})")
    request_fallback = raw.get("classify", {}).get("request_fallback")
    if request_fallback and not raw.get("routes", {}).get(request_fallback, {}).get("request"):
        requests = [name for name, route in raw.get("routes", {}).items() if route.get("request")]
        out.append(f"classify.request_fallback: no request route {request_fallback!r} "
                   f"(request routes: {', '.join(requests) or 'none'})")
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
