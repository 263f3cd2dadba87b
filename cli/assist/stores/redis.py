"""The stores in the Redis of a `redis://` queue, so that every worker on every machine sees one journal,
one set of approvals, one bucket per rate limit, one alert budget and one record of the models' health.

    assist:journal              hash: action key -> {"task", "type", "state", "result", "error", "at"}
    assist:approvals:<task id>  hash: "<kind>:<value>" -> {"by", "at"}
    assist:limit:<action type>  hash: tokens, last (a token bucket, taken in one Lua script)
    assist:alerts               hash: sent (a JSON list of times), held_back (admitted in one Lua script)
    assist:health               hash: model name -> {"ok", "at", "error"}

Each write is one command or one script, so it is atomic; what survives a crash of Redis is what its
append-only file keeps (`appendfsync always`: every acknowledged write; docs/deploy.md).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..errors import Unavailable
from ..printable import without_password
from . import base

_TAKE = """
-- KEYS[1]: the bucket. ARGV: capacity, rate (tokens/s), now (s). Returns 0 when a token was taken,
-- else the seconds until one is there (as a string: Lua numbers come back as integers).
local capacity, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or capacity)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or now)
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'last', tostring(now))
  return '0'
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
return tostring((1 - tokens) / rate)
"""

_ADMIT = """
-- KEYS[1]: the budget. ARGV: limit, period (s), now (s). Returns -1 when over the budget (counted),
-- else how many were held back since the last alert.
local limit, period, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local sent = cjson.decode(redis.call('HGET', KEYS[1], 'sent') or '[]')
local held = tonumber(redis.call('HGET', KEYS[1], 'held_back') or '0')
local recent = {}
for _, t in ipairs(sent) do if now - t < period then table.insert(recent, t) end end
if #recent >= limit then
  redis.call('HSET', KEYS[1], 'sent', cjson.encode(recent), 'held_back', held + 1)
  return -1
end
table.insert(recent, now)
redis.call('HSET', KEYS[1], 'sent', cjson.encode(recent), 'held_back', 0)
return held
"""


class _Client:
    def __init__(self, url: str):
        import redis

        self.url = url
        self.r: Any = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run one Redis call, riding out a restart of the server (a few seconds) with backoff."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        for attempt in range(6):
            try:
                return fn(*args)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if attempt == 5:
                    raise Unavailable(f"Redis at {without_password(self.url)} is unavailable: {exc}") from None
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("unreachable")


class Journal(base.Journal):
    KEY = "assist:journal"

    def __init__(self, client: _Client):
        self.c = client

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.c.call(self.c.r.hget, self.KEY, key)
        if raw is None:
            return None
        record = orjson.loads(raw)
        return {"state": record["state"], "result": record.get("result"), "error": record.get("error")}

    def record(self, key: str, task: str, kind: str, state: str, result: Any = None, error: str | None = None) -> None:
        value = orjson.dumps({"task": task, "type": kind, "state": state, "result": result, "error": error,
                              "at": time.time()})
        self.c.call(self.c.r.hset, self.KEY, key, value)

    def forget(self, key: str) -> None:
        self.c.call(self.c.r.hdel, self.KEY, key)


class Approvals(base.Approvals):
    def __init__(self, client: _Client):
        self.c = client

    def _record(self, task_id: str, kind: str, value: str, by: str) -> None:
        self.c.call(self.c.r.hset, f"assist:approvals:{task_id}", f"{kind}:{value}",
                    orjson.dumps({"by": by, "at": time.time()}))

    def of(self, task_id: str) -> list[dict[str, Any]]:
        from ..timeutil import rfc3339

        rows = self.c.call(self.c.r.hgetall, f"assist:approvals:{task_id}")
        out = []
        for field, raw in rows.items():
            kind, _, value = field.decode().partition(":")
            record = orjson.loads(raw)
            out.append({"kind": kind, "value": value, "by": record["by"], "at": record["at"]})
        out.sort(key=lambda d: d["at"])
        return [{**d, "at": rfc3339(int(d["at"] * 1000))} for d in out]


class Limits(base.Limits):
    def __init__(self, client: _Client):
        self.c = client
        self.script = client.r.register_script(_TAKE)

    def try_take(self, kind: str, capacity: float, rate: float) -> float:
        wait = self.c.call(self.script, [f"assist:limit:{kind}"], [capacity, rate, time.time()])
        return float(wait)


class AlertBudget(base.AlertBudget):
    def __init__(self, client: _Client):
        self.c = client
        self.script = client.r.register_script(_ADMIT)

    def admit(self, limit: int, period_s: float) -> int | None:
        held = int(self.c.call(self.script, ["assist:alerts"], [limit, period_s, time.time()]))
        return None if held < 0 else held


class Health(base.Health):
    KEY = "assist:health"

    def __init__(self, client: _Client):
        self.c = client

    def read(self) -> dict[str, dict[str, Any]]:
        rows = self.c.call(self.c.r.hgetall, self.KEY)
        return {name.decode(): orjson.loads(raw) for name, raw in rows.items()}

    def write(self, name: str, ok: bool, error: str | None) -> None:
        self.c.call(self.c.r.hset, self.KEY, name, orjson.dumps({"ok": ok, "at": time.time(), "error": error}))
