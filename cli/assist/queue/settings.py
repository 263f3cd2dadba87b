"""How a queue behaves: attempts, leases, timeouts, backoff, retention, syncing ([queue] in assist.toml)."""

from __future__ import annotations

from typing import Any, NamedTuple


class QueueSettings(NamedTuple):
    max_attempts: int = 5
    lease_s: float = 300.0
    timeout_s: float = 120.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 900.0
    keep_done_s: float = 7 * 86400.0
    fsync: bool = True
    keep_done_max: int = 0  # at most this many tasks in done/ per queue (0: no limit)

    @classmethod
    def from_section(cls, q: dict[str, Any]) -> QueueSettings:
        """The settings of a [queue] section whose defaults are filled in (durations as text or seconds)."""
        from ..timeutil import parse_duration

        return cls(max_attempts=q["max_attempts"], lease_s=parse_duration(q["lease"]),
                   timeout_s=parse_duration(q["timeout"]), backoff_base_s=parse_duration(q["backoff_base"]),
                   backoff_max_s=parse_duration(q["backoff_max"]), keep_done_s=parse_duration(q["keep_done"]),
                   fsync=q["fsync"], keep_done_max=q["keep_done_max"])
