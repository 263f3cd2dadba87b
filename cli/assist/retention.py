"""Retention: nothing grows forever.

- `done/` of every queue: tasks older than `queue.keep_done` (7 days) go, and beyond `queue.keep_done_max`
  tasks (when set) the oldest go.
- logs: each component's file rotates at `logs.max_bytes` with `logs.backups` old files; rotated files
  older than `logs.keep` (30 days) are removed.

`--follow` workers apply this as they go (done/ with every reap, logs every ten minutes); `assist queue
purge` applies it at once (cron).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from .timeutil import parse_duration

if TYPE_CHECKING:
    from .config import Config


def apply(config: Config, backend: Any, queues: list[str] | None = None) -> dict[str, int]:
    settings = config.queue_settings
    removed = 0
    for name in queues if queues is not None else backend.queues():
        q = backend.queue(name, create=False)
        removed += q.purge("done", settings.keep_done_s)
        if settings.keep_done_max:
            removed += q.trim("done", settings.keep_done_max)
    return {"done_removed": removed, "logs_removed": prune_logs(config)}


def prune_logs(config: Config) -> int:
    """Remove rotated log files older than logs.keep; the live files are bounded by their rotation."""
    keep_s = parse_duration(config.section("logs")["keep"])
    folder = config.home / "logs"
    if not folder.is_dir():
        return 0
    cutoff = time.time() - keep_s
    removed = 0
    for path in folder.glob("*.jsonl.*"):
        if path.name.endswith(".lock"):
            continue
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
