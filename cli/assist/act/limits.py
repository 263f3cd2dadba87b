"""Rate limits per action type (`[actions.limits] "email.send" = "20/m"`), shared by every process of the
home: a token bucket kept in state/limits.json under a file lock."""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import TemporaryError
from ..fileutil import write_atomic

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
MAX_WAIT_S = 60.0  # wait this long for a token in place; beyond it the task is retried later


def parse(spec: str) -> tuple[float, float]:
    """'20/m' -> (capacity 20, refill 20/60 per second)."""
    count, unit = re.match(r"^\s*(\d+)\s*/\s*(s|m|h)\s*$", spec).groups()  # type: ignore[union-attr]
    return float(count), float(count) / _UNITS[unit]


def take(home: Path, kind: str, spec: str) -> None:
    """Take one token for `kind`, sleeping up to MAX_WAIT_S for it; TemporaryError if it would take longer."""
    import orjson
    from filelock import FileLock

    capacity, rate = parse(spec)
    path = home / "state" / "limits.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        with FileLock(str(path) + ".lock", is_singleton=False):
            try:
                buckets = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                buckets = {}
            now = time.time()
            tokens, last = buckets.get(kind, [capacity, now])
            tokens = min(capacity, tokens + (now - last) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            if wait == 0.0:
                buckets[kind] = [tokens - 1, now]
            else:
                buckets[kind] = [tokens, now]
            write_atomic(path, orjson.dumps(buckets), sync=False)
        if wait == 0.0:
            return
        if wait > MAX_WAIT_S:
            raise TemporaryError(f"{kind}: rate limit {spec.strip()} reached; retrying later")
        time.sleep(wait)
