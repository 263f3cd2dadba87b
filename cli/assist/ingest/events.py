"""Where ingested events go: stdout as JSON lines, or durably into a queue. And the small state files
that let sources ingest each thing once across runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import jsonl
from ..fileutil import write_atomic
from ..task import Task, normalize


def event(kind: str, source: str, data: dict[str, Any]) -> Task:
    return normalize({"type": kind, "source": source, "data": data}, source=source)


class Sink:
    """Sends events on. With a queue, `send` returns only once they are on disk (or in Redis)."""

    def __init__(self, config: Any, queue: str | None):
        self.queue = None
        self.count = 0
        if queue:
            from ..queue import open_backend

            self.queue = open_backend(config).queue(queue)

    def send(self, events: list[Task]) -> None:
        if not events:
            return
        if self.queue is not None:
            self.queue.put_many(events)
        else:
            jsonl.write_lines(events)
        self.count += len(events)


class State:
    """A small JSON document under $ASSIST_HOME/state/, replaced atomically."""

    def __init__(self, home: Path, name: str):
        self.path = home / "state" / f"{name}.json"

    def load(self) -> dict[str, Any]:
        import orjson

        try:
            return orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}

    def save(self, value: dict[str, Any]) -> None:
        import orjson

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, orjson.dumps(value), mode=0o600)


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:100]
