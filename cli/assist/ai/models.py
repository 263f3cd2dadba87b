"""The configured models (`[models.NAME]` in assist.toml) and the selector that picks one per task.

The chain for a task is: the model the route (or template) names, then the models carrying the route's
tags, then every other model in the order of the config. Health is probed before first use and kept in
`state/model-health.json` for a short while (a success for a minute, a failure for 15 seconds), so a
worker neither probes before every call nor keeps knocking on a server that is down. Models known to be
down go to the end of the chain rather than out of it: when everything is down, each is tried again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .backends import make
from .backends.base import ModelBackend, ModelUnavailable

if TYPE_CHECKING:
    from ..config import Config

DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    # the best catalog model pulled into $ASSIST_HOME/models (ai/pull.py), with the context it is made for
    "embedded": {"backend": "llamacpp"},
}
HEALTHY_FOR_S = 60.0
UNHEALTHY_FOR_S = 15.0


class Models:
    def __init__(self, config: Config):
        self.config = config
        self.specs: dict[str, dict[str, Any]] = config.raw.get("models") or DEFAULT_MODELS
        self._backends: dict[str, ModelBackend] = {}

    def names(self) -> list[str]:
        return list(self.specs)

    def get(self, name: str) -> ModelBackend:
        if name not in self.specs:
            known = ", ".join(self.specs) or "none"
            raise ConfigError([f"models.{name}: no such model (configured: {known})"])
        if name not in self._backends:
            self._backends[name] = make(name, self.specs[name], self.config)
        return self._backends[name]

    def chain(self, model: str | None = None, tags: list[str] | None = None) -> list[str]:
        """Model names in the order to try them, before health is considered."""
        first: list[str] = []
        if model and model != "default":
            self.get(model)  # an unknown name is a configuration error, said at once
            first.append(model)
        for tag in tags or []:
            first += [n for n, spec in self.specs.items() if tag in spec.get("tags", []) and n not in first]
        return first + [n for n in self.specs if n not in first]

    # -- health ------------------------------------------------------------------------------------

    def _read_health(self) -> dict[str, Any]:
        from ..stores import open_stores

        return open_stores(self.config).health.read()

    def _write_health(self, name: str, error: str | None) -> None:
        """Remember a probe's answer in the home's stores (shared by the workers of every machine of a Redis
        queue: a model one host found down is skipped by the others)."""
        from ..stores import open_stores

        open_stores(self.config).health.write(name, error is None, error)

    def cached_health(self, name: str) -> bool | None:
        """True or False while a recent probe is remembered, None when it is time to probe again."""
        record = self._read_health().get(name)
        if not record:
            return None
        age = time.time() - record["at"]
        if age < (HEALTHY_FOR_S if record["ok"] else UNHEALTHY_FOR_S):
            return bool(record["ok"])
        return None

    def probe(self, name: str) -> str | None:
        """Probe one model now and remember the answer; returns the problem, or None when healthy."""
        try:
            self.get(name).health()
            error = None
        except ModelUnavailable as exc:
            error = str(exc)
        self._write_health(name, error)
        return error

    def mark_down(self, name: str, error: str) -> None:
        self._write_health(name, error)

    def mark_up(self, name: str) -> None:
        if self.cached_health(name) is not True:
            self._write_health(name, None)

    def candidates(self, model: str | None = None, tags: list[str] | None = None) -> Iterator[ModelBackend]:
        """Backends to try in order: healthy or newly probed healthy ones first, known-down ones last."""
        down: list[str] = []
        for name in self.chain(model, tags):
            state = self.cached_health(name)
            if state is None:
                state = self.probe(name) is None
            if state:
                yield self.get(name)
            else:
                down.append(name)
        for name in down:
            yield self.get(name)
