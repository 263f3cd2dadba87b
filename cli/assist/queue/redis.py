"""The Redis Streams queue backend, for users who outgrow one machine (`queue.url = "redis://..."`).

Keys of queue Q (all under the prefix `assist:{Q}:`; the braces keep one queue on one cluster slot):

    s:0 .. s:9     a stream per priority; the consumer group `workers` hands entries out (XREADGROUP)
    delayed        sorted set of tasks not yet due (score: due ms), moved into their stream when due
    z:new z:cur z:hold z:done z:failed z:cancelled
                   sorted sets: which tasks are in each state (score: due ms for new, else the change)
    state doc prio entry lease
                   hashes by task id: its state, its JSON document, priority, stream entry, lease ms

Every change of state is one Lua script, so it is atomic. A lease is a pending entry of the consumer
group, owned by the consumer `<host>:<pid>`; renewing it (XCLAIM by its owner) resets its idle time. `reap`
takes over entries idle longer than their lease, or owned by a dead process of this host (XPENDING +
XCLAIM with the idle threshold, so a renewal that lands first wins), and requeues them with one more
attempt. Durability is Redis's: with `appendonly yes` and `appendfsync always` an acknowledged put
survives a crash of the server; with `everysec` up to a second of writes may be lost (docs/redis.md).
"""

from __future__ import annotations

import builtins
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import Conflict, LeaseLost, NotFound, Unavailable
from ..printable import without_password
from ..task import routed_by_person
from ..timeutil import now_ms, parse_rfc3339
from .base import STATES, TERMINAL, Backend, Lease, Queue, TaskInfo, checked_id, checked_name, next_attempt
from .checks import InvalidTask, invalid_record, notice, parse_document
from .settings import QueueSettings
from .spool import HOST, pid_alive

GROUP = "workers"
BANDS = range(10)

_LIB = r"""
local function k(p, name) return p .. name end

local function owned(p, g, c, handle)
  local prio, eid = string.match(handle, '^(%d)|(.+)$')
  local pend = redis.call('XPENDING', k(p, 's:' .. prio), g, eid, eid, 1, c)
  if #pend == 0 then return nil end
  return prio, eid
end

local function leave(p, id, state, g)
  -- take a task out of its current state (stream entry, delayed set, state set)
  if state == 'new' or state == 'cur' then
    local entry = redis.call('HGET', k(p, 'entry'), id)
    if entry then
      local prio, eid = string.match(entry, '^(%d)|(.+)$')
      redis.call('XACK', k(p, 's:' .. prio), g, eid)
      redis.call('XDEL', k(p, 's:' .. prio), eid)
      redis.call('HDEL', k(p, 'entry'), id)
    end
    redis.call('ZREM', k(p, 'delayed'), id)
    redis.call('HDEL', k(p, 'lease'), id)
  end
  redis.call('ZREM', k(p, 'z:' .. state), id)
end

local function enter(p, id, state, score, now)
  -- put a task in a state; a new task goes into its priority's stream when due, else waits in delayed
  redis.call('HSET', k(p, 'state'), id, state)
  redis.call('ZADD', k(p, 'z:' .. state), score, id)
  if state == 'new' then
    if score <= now then
      local prio = redis.call('HGET', k(p, 'prio'), id) or '5'
      local eid = redis.call('XADD', k(p, 's:' .. prio), '*', 'id', id)
      redis.call('HSET', k(p, 'entry'), id, prio .. '|' .. eid)
    else
      redis.call('ZADD', k(p, 'delayed'), score, id)
    end
  end
end
"""

_PUT = _LIB + r"""
-- ARGV: prefix, id, doc, priority, state (new, or failed for a dead letter), due, now
local p, id = ARGV[1], ARGV[2]
if redis.call('HEXISTS', k(p, 'state'), id) == 1 then return 0 end  -- a retried put: already there
redis.call('HSET', k(p, 'doc'), id, ARGV[3])
redis.call('HSET', k(p, 'prio'), id, ARGV[4])
enter(p, id, ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]))
return 1
"""

_CLAIM = _LIB + r"""
-- ARGV: prefix, group, consumer, n, now, lease_ms
local p, g, c, n, now, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', k(p, 'delayed'), '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', k(p, 'delayed'), id)
  enter(p, id, 'new', now, now)
end
local out = {}
for prio = 0, 9 do
  if #out >= n then break end
  local res = redis.call('XREADGROUP', 'GROUP', g, c, 'COUNT', n - #out, 'STREAMS', k(p, 's:' .. prio), '>')
  if res then
    for _, e in ipairs(res[1][2]) do
      local eid, id = e[1], e[2][2]
      local live = redis.call('HGET', k(p, 'state'), id) == 'new'
      if live and redis.call('HGET', k(p, 'entry'), id) == prio .. '|' .. eid then
        redis.call('ZREM', k(p, 'z:new'), id)
        enter(p, id, 'cur', now, now)
        redis.call('HSET', k(p, 'lease'), id, lease)
        table.insert(out, {id, prio .. '|' .. eid, redis.call('HGET', k(p, 'doc'), id)})
      else  -- a stale entry (the task was cancelled or moved): drop it
        redis.call('XACK', k(p, 's:' .. prio), g, eid)
        redis.call('XDEL', k(p, 's:' .. prio), eid)
      end
    end
  end
end
local nxt = redis.call('ZRANGE', k(p, 'delayed'), 0, 0, 'WITHSCORES')
return {out, nxt[2] or false}
"""

_RENEW = _LIB + r"""
-- ARGV: prefix, group, consumer, handle, lease_ms
local p, g, c, handle = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prio, eid = owned(p, g, c, handle)
if not prio then return 0 end
redis.call('XCLAIM', k(p, 's:' .. prio), g, c, 0, eid, 'JUSTID')
return 1
"""

_FINISH = _LIB + r"""
-- a leased task leaves cur. ARGV: prefix, group, consumer, id, handle, doc ('' keeps it), dest, score, now
local p, g, c, id, handle = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local doc, dest, score, now = ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
if not owned(p, g, c, handle) then return 0 end
leave(p, id, 'cur', g)
if doc ~= '' then redis.call('HSET', k(p, 'doc'), id, doc) end
enter(p, id, dest, score, now)
return 1
"""

_MOVE = _LIB + r"""
-- an administrative move. ARGV: prefix, group, id, allowed states (comma list), dest, doc ('' keeps), now
local p, g, id, allowed, dest, doc = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local score = tonumber(ARGV[7])
local state = redis.call('HGET', k(p, 'state'), id)
if not state then return {0, ''} end
if not string.find(',' .. allowed .. ',', ',' .. state .. ',', 1, true) then return {0, state} end
leave(p, id, state, g)
if doc ~= '' then redis.call('HSET', k(p, 'doc'), id, doc) end
enter(p, id, dest, score, score)
return {1, state}
"""

_PURGE = _LIB + r"""
-- ARGV: prefix, state, cutoff
local p, state = ARGV[1], ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', k(p, 'z:' .. state), '-inf', ARGV[3], 'LIMIT', 0, 5000)
for _, id in ipairs(ids) do
  redis.call('ZREM', k(p, 'z:' .. state), id)
  redis.call('HDEL', k(p, 'state'), id)
  redis.call('HDEL', k(p, 'doc'), id)
  redis.call('HDEL', k(p, 'prio'), id)
end
return #ids
"""


def _translating(cls: type) -> type:
    """Make every public method report a lost connection as Unavailable (exit 69), in one line."""
    import functools

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    def wrap(fn: Any) -> Any:
        @functools.wraps(fn)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                raise Unavailable(f"Redis is unavailable: {exc}") from None

        return call

    for name, fn in list(vars(cls).items()):
        if callable(fn) and not name.startswith("_"):
            setattr(cls, name, wrap(fn))
    return cls


def _dumps(doc: dict[str, Any]) -> str:
    from ..jsonl import dumps  # imported on first use: listing an empty queue should not pay for it

    return dumps(doc).decode()


def _loads(data: str | bytes) -> dict[str, Any]:
    import orjson

    return orjson.loads(data)


def _due(doc: dict[str, Any], now: int) -> int:
    nb = doc.get("meta", {}).get("not_before")
    if nb:
        try:
            return max(now, parse_rfc3339(nb))
        except ValueError:
            return now
    return now


@_translating
class RedisQueue(Queue):
    def __init__(self, backend: RedisBackend, name: str, settings: QueueSettings, create: bool = True):
        self.name = name
        self.settings = settings
        self.b = backend
        self.r: Any = backend.r
        self.prefix = f"assist:{{{name}}}:"
        self.consumer = f"{HOST}:{os.getpid()}"
        self.next_due_ms: int | None = None
        self._stop = threading.Event()
        if create:
            self._ensure()
        elif not self.r.sismember("assist:queues", name):
            raise NotFound(f"no queue named {name!r} in {without_password(backend.url)}")

    def _ensure(self) -> None:
        from redis.exceptions import ResponseError

        if self.r.sadd("assist:queues", self.name) == 0:
            return
        for prio in BANDS:
            try:
                self.r.xgroup_create(f"{self.prefix}s:{prio}", GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _call(self, script: Any, *args: Any) -> Any:
        return self.b.call(script, *args)

    # -- producing ----------------------------------------------------------------------------------

    def put_many(self, docs: Iterable[dict[str, Any]], state: str = "new") -> builtins.list[str]:
        """Store tasks in one round trip; a task whose id the queue holds already is skipped (the first
        is kept). Returns the ids stored now."""
        docs = list(docs)
        now = now_ms()
        calls = [(self.b.put, self.prefix, checked_id(d), _dumps(d), d.get("priority", 5), state,
                  _due(d, now) if state == "new" else now, now) for d in docs]
        stored = self.b.pipeline_calls(calls)
        return [d["id"] for d, new in zip(docs, stored, strict=True) if new]

    # -- consuming ----------------------------------------------------------------------------------

    def claim(self, n: int = 1, lease_s: float | None = None) -> builtins.list[Lease]:
        lease_ms = int(1000 * (lease_s or self.settings.lease_s))
        now = now_ms()
        got, nxt = self._call(self.b.claim, self.prefix, GROUP, self.consumer, n, now, lease_ms)
        self.next_due_ms = int(float(nxt)) if nxt else None
        leases = []
        for tid, handle, doc in got:
            lease = Lease(self.name, _s(tid), {}, now + lease_ms, _s(handle))
            try:
                lease.doc = parse_document(doc, lease.id)
            except InvalidTask as exc:  # not a task: set aside in failed/ with the reason
                record = invalid_record(lease.id, self.name, str(exc), None, doc)
                self._finish(lease, record if self._safe(lease.id) else None, "failed", now)
                continue
            leases.append(lease)
        return leases

    @staticmethod
    def _safe(task_id: str) -> bool:
        try:
            checked_id({"id": task_id})
        except ValueError:
            return False
        return True

    def heartbeat(self, lease: Lease, lease_s: float | None = None) -> None:
        with lease.mutex:
            if not self._call(self.b.renew, self.prefix, GROUP, self.consumer, lease.handle, 0):
                lease.lost.set()
                raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)")
            lease.deadline_ms = now_ms() + int(1000 * (lease_s or self.settings.lease_s))

    def _finish(self, lease: Lease, doc: dict[str, Any] | None, dest: str, score: int) -> None:
        with lease.mutex:
            done = self._call(self.b.finish, self.prefix, GROUP, self.consumer, lease.id, lease.handle,
                              _dumps(doc) if doc is not None else "", dest, score, now_ms())
            if not done:
                lease.lost.set()
                raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)")

    def ack(self, lease: Lease, doc: dict[str, Any] | None = None) -> None:
        self._finish(lease, doc, "done", now_ms())

    def nack(self, lease: Lease, error: str, *, permanent: bool = False,
             doc: dict[str, Any] | None = None) -> str:
        doc = doc if doc is not None else lease.doc
        dest, due = next_attempt(doc, error, permanent, self.settings)
        self._finish(lease, doc, dest, due)
        return dest

    def hold(self, lease: Lease, doc: dict[str, Any], reason: str) -> None:
        doc.setdefault("meta", {})["hold_reason"] = reason
        self._finish(lease, doc, "hold", now_ms())

    def release(self, lease: Lease) -> None:
        self._finish(lease, None, "new", now_ms())

    # -- administration -----------------------------------------------------------------------------

    def _move(self, task_id: str, allowed: str, dest: str, doc: dict[str, Any] | None, what: str) -> str:
        ok, state = self._call(self.b.move, self.prefix, GROUP, task_id, allowed, dest,
                               _dumps(doc) if doc is not None else "", now_ms())
        state = _s(state)
        if not state:
            raise NotFound(f"no task {task_id} in queue {self.name}")
        if not ok:
            raise Conflict(f"task {task_id} is {state}; {what}")
        return state

    def _doc(self, task_id: str) -> dict[str, Any]:
        from ..errors import Unreadable

        raw = self.r.hget(f"{self.prefix}doc", task_id)
        if raw is None:
            raise NotFound(f"no task {task_id} in queue {self.name}")
        try:
            return parse_document(raw, task_id)
        except InvalidTask as exc:
            raise Unreadable(f"queue {self.name}, task {task_id}: {exc}") from None

    def cancel(self, task_id: str) -> str:
        return self._move(task_id, "new,cur,hold,failed", "cancelled", None, "it cannot be cancelled")

    def approve(self, task_id: str, route: str | None = None) -> None:
        doc = self._doc(task_id)
        meta = doc.setdefault("meta", {})
        if route:
            routed_by_person(doc, route)
        for key in ("not_before", "hold_reason", "approved"):
            meta.pop(key, None)
        self._move(task_id, "hold", "new", doc, "not waiting for approval (hold)")

    def reject(self, task_id: str, reason: str = "") -> None:
        doc = self._doc(task_id)
        doc.setdefault("meta", {})["last_error"] = "rejected" + (f": {reason}" if reason else "")
        self._move(task_id, "hold", "cancelled", doc, "not waiting for approval (hold)")

    def retry(self, task_id: str) -> str:
        doc = self._doc(task_id)
        meta = doc.setdefault("meta", {})
        meta["attempts"] = 0
        meta.pop("not_before", None)
        return self._move(task_id, "failed,cancelled", "new", doc,
                          "only failed or cancelled tasks can be retried")

    def _info(self, task_id: str, state: str, score: float | None) -> TaskInfo:
        info = TaskInfo(task_id, self.name, state, changed_ms=int(score) if score is not None else None)
        if state == "new":
            prio = self.r.hget(f"{self.prefix}prio", task_id)
            info.priority = int(prio) if prio is not None else None
            info.due_ms = info.changed_ms
        elif state == "cur":
            lease = self.r.hget(f"{self.prefix}lease", task_id)
            if score is not None and lease is not None:
                info.deadline_ms = int(score) + int(lease)
        return info

    def list(self, state: str | None = None) -> Iterator[TaskInfo]:
        out: builtins.list[TaskInfo] = []  # built whole, so a lost connection surfaces here and not mid-iteration
        for st in [state] if state else STATES:
            rows = [(_s(m), s) for m, s in self.r.zrange(f"{self.prefix}z:{st}", 0, -1, withscores=True)]
            infos = [self._info(tid, st, score) for tid, score in rows]
            if st == "new":
                infos.sort(key=lambda i: (i.priority if i.priority is not None else 5, i.due_ms or 0, i.id))
            out.extend(infos)
        return iter(out)

    def read(self, info: TaskInfo) -> dict[str, Any] | None:
        raw = self.r.hget(f"{self.prefix}doc", info.id)
        if raw is None:
            return None
        try:
            return parse_document(raw, info.id)
        except InvalidTask as exc:
            notice(f"{self.name}/{info.id}: {exc}")
            return None

    def get(self, task_id: str) -> tuple[TaskInfo, dict[str, Any]]:
        state = self.r.hget(f"{self.prefix}state", task_id)
        if state is None:
            raise NotFound(f"no task {task_id} in queue {self.name}")
        state = _s(state)
        score = self.r.zscore(f"{self.prefix}z:{state}", task_id)
        return self._info(task_id, state, score), self._doc(task_id)

    def find(self, prefix: str) -> builtins.list[TaskInfo]:
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
        found = []
        for tid, state in self.r.hscan_iter(f"{self.prefix}state", match=pattern, count=1000):
            st = _s(state)
            found.append(self._info(_s(tid), st, self.r.zscore(f"{self.prefix}z:{st}", tid)))
        return found

    def purge(self, state: str, older_than_s: float) -> int:
        if state not in TERMINAL:
            raise Conflict(f"only {', '.join(TERMINAL)} can be purged, not {state}")
        cutoff = now_ms() - int(older_than_s * 1000)
        total = 0
        while True:
            removed = self._call(self.b.purge, self.prefix, state, cutoff)
            total += removed
            if removed < 5000:
                return total

    def trim(self, state: str, keep: int) -> int:
        if state not in TERMINAL:
            raise Conflict(f"only {', '.join(TERMINAL)} can be trimmed, not {state}")
        zset = f"{self.prefix}z:{state}"
        total = 0
        while (count := self.r.zcard(zset)) > keep:
            # the newest of those to go: everything up to its time goes, oldest first
            [(_, score)] = self.r.zrange(zset, count - keep - 1, count - keep - 1, withscores=True)
            removed = self._call(self.b.purge, self.prefix, state, int(score))
            total += removed
            if not removed:
                break
        return total

    def reap(self) -> dict[str, int]:
        counts = {"requeued": 0, "failed": 0, "tmp_removed": 0, "purged": 0}
        reaper = f"{HOST}:{os.getpid()}:reaper"
        for prio in BANDS:
            stream = f"{self.prefix}s:{prio}"
            pending = self.r.xpending_range(stream, GROUP, min="-", max="+", count=10_000)
            for entry in pending:
                eid, owner, idle = _s(entry["message_id"]), _s(entry["consumer"]), entry["time_since_delivered"]
                rows = self.r.xrange(stream, eid, eid)
                if not rows:
                    continue
                task_id = _s(rows[0][1][b"id"])
                lease_ms = int(self.r.hget(f"{self.prefix}lease", task_id) or self.settings.lease_s * 1000)
                host, _, pid = owner.partition(":")
                pid = pid.split(":")[0]
                if idle > lease_ms:
                    threshold, reason = lease_ms, f"lease expired (worker {owner})"
                elif host == HOST and pid.isdigit() and not pid_alive(int(pid)):
                    threshold, reason = 0, f"worker pid {pid} on {host} died"
                else:
                    continue
                # take the entry over only if it is still idle past the threshold: a renewal wins
                if not self.r.xclaim(stream, GROUP, reaper, threshold, [eid], justid=True):
                    continue
                doc = self._doc(task_id)
                dest, due = next_attempt(doc, reason, False, self.settings)
                if self._call(self.b.finish, self.prefix, GROUP, reaper, task_id, f"{prio}|{eid}", _dumps(doc),
                              dest, due, now_ms()):
                    counts["requeued" if dest == "new" else "failed"] += 1
        counts["purged"] = self.retain_done()
        return counts

    def stats(self) -> dict[str, Any]:
        now = now_ms()
        pipe = self.r.pipeline()
        for state in STATES:
            pipe.zcard(f"{self.prefix}z:{state}")
        pipe.zcount(f"{self.prefix}z:new", "-inf", now)
        pipe.zrangebyscore(f"{self.prefix}z:new", "-inf", now, start=0, num=1, withscores=True)
        for window in (60, 300, 900):
            pipe.zcount(f"{self.prefix}z:done", now - window * 1000, "+inf")
        res = pipe.execute()
        depth = dict(zip(STATES, res[: len(STATES)], strict=True))
        ready, oldest = res[len(STATES)], res[len(STATES) + 1]
        d1, d5, d15 = res[len(STATES) + 2:]
        return {
            "queue": self.name,
            "depth": depth,
            "ready": ready,
            "delayed": depth["new"] - ready,
            "oldest_ready_age_s": round((now - oldest[0][1]) / 1000, 3) if oldest else None,
            "done_last_1m": d1,
            "done_last_5m": d5,
            "done_last_15m": d15,
        }

    # -- waiting ------------------------------------------------------------------------------------

    def wait(self, timeout_s: float) -> None:
        """Block on the streams (XREAD) until an entry is added, interrupt() is called, or the timeout."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        streams = {f"{self.prefix}s:{prio}": "$" for prio in BANDS}
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            block_ms = max(1, int(min(left, 1.0) * 1000))  # wake at least every second to see interrupt()
            if self.b.blocking.xread(streams, block=block_ms, count=1):
                return

    def interrupt(self) -> None:
        self._stop.set()


def _s(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


@_translating
class RedisBackend(Backend):
    def __init__(self, url: str, settings: QueueSettings):
        import redis

        self.url = url
        self.settings = settings
        # typed loosely: redis-py's stubs cannot know what our scripts and commands return
        self.r: Any = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)
        self.blocking: Any = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=40)
        self.put = self.r.register_script(_PUT)
        self.claim = self.r.register_script(_CLAIM)
        self.renew = self.r.register_script(_RENEW)
        self.finish = self.r.register_script(_FINISH)
        self.move = self.r.register_script(_MOVE)
        self.purge = self.r.register_script(_PURGE)
        self._queues: dict[str, RedisQueue] = {}

    def call(self, script: Any, *args: Any, retries: int = 5) -> Any:
        """Run a script, riding out a short outage of the server (a restart) with backoff."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        for attempt in range(retries + 1):
            try:
                return script(args=list(args))
            except (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError) as exc:
                if attempt == retries:
                    raise Unavailable(f"Redis at {without_password(self.url)} is unavailable: {exc}") from None
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("unreachable")

    def pipeline_calls(self, calls: builtins.list[tuple[Any, ...]], retries: int = 5) -> builtins.list[Any]:
        """Several script calls in one round trip (a batch put); retried whole, as puts are idempotent.
        Their results, in order."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        for attempt in range(retries + 1):
            try:
                pipe = self.r.pipeline(transaction=False)
                for script, *args in calls:
                    script(args=list(args), client=pipe)
                return pipe.execute()
            except (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError) as exc:
                if attempt == retries:
                    raise Unavailable(f"Redis at {without_password(self.url)} is unavailable: {exc}") from None
                time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError("unreachable")

    def queue(self, name: str, create: bool = True) -> RedisQueue:
        q = self._queues.get(name)
        if q is None:
            q = RedisQueue(self, checked_name(name), self.settings, create=create)
            self._queues[name] = q
        return q

    def queues(self) -> builtins.list[str]:
        return sorted(_s(n) for n in self.r.smembers("assist:queues"))

    def register_worker(self, worker: dict[str, Any], ttl_s: float) -> None:
        record = {**worker, "seen": now_ms()}
        self.r.set(f"assist:workers:{worker['host']}:{worker['pid']}", _dumps(record), px=int(ttl_s * 1000))

    def workers(self) -> builtins.list[dict[str, Any]]:
        keys = sorted(self.r.scan_iter(match="assist:workers:*", count=1000))
        records = [_loads(raw) for raw in (self.r.mget(keys) if keys else []) if raw is not None]
        return sorted(records, key=lambda w: (w["host"], w["pid"]))
