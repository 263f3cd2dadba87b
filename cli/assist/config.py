"""The configuration of a home: its values with their defaults (`Config`). Reading and checking assist.toml
is config_file.py's work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .queue.settings import QueueSettings

if TYPE_CHECKING:
    from .queue.base import Backend

DEFAULTS: dict[str, dict[str, Any]] = {
    "queue": {
        "url": "spool",
        "max_attempts": 5,
        "lease": "5m",
        "timeout": "2m",
        "backoff_base": "2s",
        "backoff_max": "15m",
        "keep_done": "7d",
        "keep_done_max": 0,
        "fsync": True,
    },
    "logs": {"level": "info", "max_bytes": 5_000_000, "backups": 3, "log_content": False, "keep": "30d"},
    "limits": {"max_line_bytes": 1 << 20},
    "serve": {"host": "127.0.0.1", "port": 8770},
    "classify": {"batch": 32},
    "memory": {},
    "alerts": {},
}


class Config(NamedTuple):
    home: Path
    path: Path | None  # the assist.toml read, if any
    raw: dict[str, Any] = {}  # noqa: RUF012 - never mutated

    def section(self, name: str) -> dict[str, Any]:
        """A top-level section with its defaults (DEFAULTS) filled in."""
        merged = dict(DEFAULTS.get(name, {}))
        merged.update(self.raw.get(name, {}))
        return merged

    def action_section(self, name: str) -> dict[str, Any]:
        """[actions.NAME]: how an executor reaches its server or folder ({} when not configured)."""
        return self.raw.get("actions", {}).get(name, {})

    @property
    def routes(self) -> dict[str, dict[str, Any]]:
        return self.raw.get("routes", {})

    def route(self, name: str) -> dict[str, Any]:
        """[routes.NAME], or {} (a route nobody configured allows nothing)."""
        return self.routes.get(name, {})

    def route_of(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The name and table of the route a task is on ("default" when it has none)."""
        name = (task.get("intent") or {}).get("route") or "default"
        return name, self.route(name)

    @property
    def rules(self) -> list[dict[str, Any]]:
        return self.raw.get("rules", [])

    def resolve(self, value: str) -> Path:
        """A path from the config: `~` expanded, and a relative one taken from the home (not from the
        directory a command happens to run in)."""
        import os

        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.home / path

    @property
    def allow_remote(self) -> bool:
        return bool(self.raw.get("allow_remote", False))

    @property
    def queue_url(self) -> str:
        return self.section("queue")["url"]

    @property
    def queue_settings(self) -> QueueSettings:
        return QueueSettings.from_section(self.section("queue"))

    def backend(self) -> Backend:
        """The home's queue backend: $ASSIST_QUEUE_URL (what --queue-url sets), else queue.url."""
        import os

        from .queue import open_backend

        return open_backend(os.environ.get("ASSIST_QUEUE_URL") or self.queue_url, self.queue_settings, self.home)

    @property
    def max_line_bytes(self) -> int:
        return self.section("limits")["max_line_bytes"]
