"""Clock helpers: RFC 3339 timestamps and human durations."""

from __future__ import annotations

import re
import time

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def rfc3339(ms: int | None = None) -> str:
    """Milliseconds since the epoch as RFC 3339 UTC, e.g. 2026-11-26T13:29:40.123Z."""
    from datetime import UTC, datetime

    ms = now_ms() if ms is None else ms
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_rfc3339(text: str) -> int:
    """RFC 3339 to milliseconds since the epoch."""
    from datetime import UTC, datetime

    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_duration(text: str | float | int) -> float:
    """'90s', '15m', '12h', '7d', '2w' or a number of seconds, to seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use a number with s, m, h, d or w, e.g. 7d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def human_age(seconds: float) -> str:
    """A short age for tables: 45s, 12m, 3h, 2d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
