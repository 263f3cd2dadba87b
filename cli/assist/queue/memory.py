"""A queue in this process's memory (`queue.url = "memory://NAME"`), as huey's MemoryHuey: the same
interface and behaviour as the spool and Redis (the conformance tests run on all three), nothing durable.
It is for fast tests of what sits on a queue (the runner, the act stage, approvals) and for throwaway
runs; the queues of one NAME are shared by everything in the process that opens it.

A lease belongs to this process, so `reap` requeues only leases whose deadline passed (there is no
other process whose death could leave one behind).
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import Conflict, LeaseLost, NotFound
from ..task import routed_by_person
from ..timeutil import now_ms, parse_rfc3339
from .base import STATES, TERMINAL, Backend, Lease, Queue, TaskInfo, checked_id, checked_name, next_attempt
from .checks import InvalidTask, invalid_record, parse_document
from .settings import QueueSettings

_BACKENDS: dict[str, MemoryBackend] = {}
_BACKENDS_LOCK = threading.Lock()


class _Entry:
    __slots__ = ("changed_ms", "doc", "due_ms", "handle", "state")

    def __init__(self, doc: dict[str, Any], state: str, due_ms: int):
        self.doc, self.state, self.due_ms = doc, state, due_ms
        self.changed_ms = now_ms()
        self.handle: str | None = None  # the current lease, while in cur


class MemoryQueue(Queue):
    def __init__(self, name: str, settings: QueueSettings):
        self.name = name
        self.settings = settings
        self.next_due_ms: int | None = None
        self._tasks: dict[str, _Entry] = {}
        self._deadlines: dict[str, int] = {}  # leased id -> lease deadline
        self._lock = threading.Condition()
        self._leases = iter(range(1 << 62))
        self._stop = threading.Event()

    def _move(self, entry: _Entry, state: str, due_ms: int | None = None) -> None:
        entry.state = state
        entry.changed_ms = now_ms()
        entry.due_ms = due_ms if due_ms is not None else entry.changed_ms
        if state != "cur":
            entry.handle = None
            self._deadlines.pop(entry.doc["id"], None)
        if state == "new":
            self._lock.notify_all()

    # -- producing ------------------------------------------------------------------------------------------

    def put_many(self, docs: Iterable[dict[str, Any]], state: str = "new") -> builtins.list[str]:
        stored = []
        with self._lock:
            for doc in docs:
                task_id = checked_id(doc)
                if task_id in self._tasks:
                    continue  # the first is kept
                due = now_ms()
                not_before = doc.get("meta", {}).get("not_before")
                if state == "new" and not_before:
                    with contextlib.suppress(ValueError):
                        due = max(due, parse_rfc3339(not_before))
                self._tasks[task_id] = _Entry(copy.deepcopy(doc), state, due)
                stored.append(task_id)
            if stored:
                self._lock.notify_all()
        return stored

    # -- consuming ------------------------------------------------------------------------------------------

    def claim(self, n: int = 1, lease_s: float | None = None) -> builtins.list[Lease]:
        now = now_ms()
        out: builtins.list[Lease] = []
        with self._lock:
            ready = sorted((e for e in self._tasks.values() if e.state == "new"),
                           key=lambda e: (e.doc.get("priority", 5), e.due_ms, e.doc["id"]))
            later = [e.due_ms for e in ready if e.due_ms > now]
            self.next_due_ms = min(later) if later else None
            for entry in ready:
                if len(out) >= n:
                    break
                if entry.due_ms > now:
                    continue
                task_id = entry.doc["id"]
                try:
                    doc = parse_document(_dumps(entry.doc), task_id)
                except InvalidTask as exc:  # as the other backends: set aside with the reason
                    entry.doc = invalid_record(task_id, self.name, str(exc), None, None)
                    self._move(entry, "failed")
                    continue
                deadline = now + int(1000 * (lease_s or self.settings.lease_s))
                entry.handle = f"{task_id}#{next(self._leases)}"
                self._deadlines[task_id] = deadline
                self._move(entry, "cur")
                out.append(Lease(self.name, task_id, doc, deadline, entry.handle))
        return out

    def _leased(self, lease: Lease) -> _Entry:
        entry = self._tasks.get(lease.id)
        if entry is None or entry.state != "cur" or entry.handle != lease.handle:
            lease.lost.set()
            raise LeaseLost(f"task {lease.id}: lease lost (cancelled or reaped)")
        return entry

    def heartbeat(self, lease: Lease, lease_s: float | None = None) -> None:
        with self._lock, lease.mutex:
            self._leased(lease)
            lease.deadline_ms = now_ms() + int(1000 * (lease_s or self.settings.lease_s))
            self._deadlines[lease.id] = lease.deadline_ms

    def ack(self, lease: Lease, doc: dict[str, Any] | None = None) -> None:
        with self._lock, lease.mutex:
            entry = self._leased(lease)
            if doc is not None:
                entry.doc = copy.deepcopy(doc)
            self._move(entry, "done")

    def nack(self, lease: Lease, error: str, *, permanent: bool = False,
             doc: dict[str, Any] | None = None) -> str:
        with self._lock, lease.mutex:
            entry = self._leased(lease)
            entry.doc = copy.deepcopy(doc if doc is not None else lease.doc)
            state, due = next_attempt(entry.doc, error, permanent, self.settings)
            self._move(entry, state, due)
            return state

    def hold(self, lease: Lease, doc: dict[str, Any], reason: str) -> None:
        doc.setdefault("meta", {})["hold_reason"] = reason
        with self._lock, lease.mutex:
            entry = self._leased(lease)
            entry.doc = copy.deepcopy(doc)
            self._move(entry, "hold")

    def release(self, lease: Lease) -> None:
        with self._lock, lease.mutex:
            entry = self._leased(lease)
            self._move(entry, "new", entry.due_ms)

    # -- administration -------------------------------------------------------------------------------------

    def _entry(self, task_id: str) -> _Entry:
        entry = self._tasks.get(task_id)
        if entry is None:
            raise NotFound(f"no task {task_id} in queue {self.name}")
        return entry

    def cancel(self, task_id: str) -> str:
        with self._lock:
            entry = self._entry(task_id)
            was = entry.state
            if was in ("done", "cancelled"):
                raise Conflict(f"task {task_id} is already {was}")
            self._move(entry, "cancelled")
            return was

    def _held(self, task_id: str) -> _Entry:
        entry = self._entry(task_id)
        if entry.state != "hold":
            raise Conflict(f"task {task_id} is {entry.state}, not waiting for approval (hold)")
        return entry

    def approve(self, task_id: str, route: str | None = None) -> None:
        with self._lock:
            entry = self._held(task_id)
            if route:
                routed_by_person(entry.doc, route)
            for key in ("not_before", "hold_reason", "approved"):
                entry.doc.setdefault("meta", {}).pop(key, None)
            self._move(entry, "new")

    def reject(self, task_id: str, reason: str = "") -> None:
        with self._lock:
            entry = self._held(task_id)
            entry.doc.setdefault("meta", {})["last_error"] = "rejected" + (f": {reason}" if reason else "")
            self._move(entry, "cancelled")

    def retry(self, task_id: str) -> str:
        with self._lock:
            entry = self._entry(task_id)
            was = entry.state
            if was not in ("failed", "cancelled"):
                raise Conflict(f"task {task_id} is {was}; only failed or cancelled tasks can be retried")
            meta = entry.doc.setdefault("meta", {})
            meta["attempts"] = 0
            meta.pop("not_before", None)
            self._move(entry, "new")
            return was

    def _info(self, entry: _Entry) -> TaskInfo:
        task_id = entry.doc["id"]
        info = TaskInfo(task_id, self.name, entry.state, changed_ms=entry.changed_ms, handle=entry.handle)
        if entry.state == "new":
            info.priority, info.due_ms = entry.doc.get("priority", 5), entry.due_ms
        elif entry.state == "cur":
            info.deadline_ms, info.owner = self._deadlines.get(task_id), "this process"
        return info

    def list(self, state: str | None = None) -> Iterator[TaskInfo]:
        with self._lock:
            entries = [e for e in self._tasks.values() if state is None or e.state == state]
            entries.sort(key=lambda e: (STATES.index(e.state), e.doc.get("priority", 5) if e.state == "new" else 0,
                                        e.due_ms if e.state == "new" else 0, e.doc["id"]))
            return iter([self._info(e) for e in entries])

    def get(self, task_id: str) -> tuple[TaskInfo, dict[str, Any]]:
        with self._lock:
            entry = self._entry(task_id)
            return self._info(entry), copy.deepcopy(entry.doc)

    def read(self, info: TaskInfo) -> dict[str, Any] | None:
        with self._lock:
            entry = self._tasks.get(info.id)
            return copy.deepcopy(entry.doc) if entry is not None else None

    def find(self, prefix: str) -> builtins.list[TaskInfo]:
        with self._lock:
            return [self._info(e) for task_id, e in self._tasks.items() if task_id.startswith(prefix)]

    def _finished(self, state: str) -> builtins.list[_Entry]:
        if state not in TERMINAL:
            raise Conflict(f"only {', '.join(TERMINAL)} can be purged or trimmed, not {state}")
        return sorted((e for e in self._tasks.values() if e.state == state), key=lambda e: e.changed_ms)

    def purge(self, state: str, older_than_s: float) -> int:
        cutoff = now_ms() - int(older_than_s * 1000)
        with self._lock:
            gone = [e for e in self._finished(state) if e.changed_ms <= cutoff]
            for entry in gone:
                del self._tasks[entry.doc["id"]]
            return len(gone)

    def trim(self, state: str, keep: int) -> int:
        with self._lock:
            aged = self._finished(state)
            gone = aged[:max(0, len(aged) - keep)]
            for entry in gone:
                del self._tasks[entry.doc["id"]]
            return len(gone)

    def reap(self) -> dict[str, int]:
        counts = {"requeued": 0, "failed": 0, "tmp_removed": 0, "purged": 0, "invalid": 0}
        now = now_ms()
        with self._lock:
            for task_id, deadline in list(self._deadlines.items()):
                if deadline >= now:
                    continue
                entry = self._tasks[task_id]
                state, due = next_attempt(entry.doc, "lease expired (worker: this process)", False, self.settings)
                self._move(entry, state, due)
                counts["requeued" if state == "new" else "failed"] += 1
        counts["purged"] = self.retain_done()
        return counts

    def stats(self) -> dict[str, Any]:
        now = now_ms()
        with self._lock:
            entries = list(self._tasks.values())
        depth = {state: sum(1 for e in entries if e.state == state) for state in STATES}
        ready = [e.due_ms for e in entries if e.state == "new" and e.due_ms <= now]
        done = [e.changed_ms for e in entries if e.state == "done"]
        return {"queue": self.name, "depth": depth, "ready": len(ready), "delayed": depth["new"] - len(ready),
                "oldest_ready_age_s": round((now - min(ready)) / 1000, 3) if ready else None,
                **{f"done_last_{m}m": sum(1 for t in done if now - t <= m * 60_000) for m in (1, 5, 15)}}

    # -- waiting --------------------------------------------------------------------------------------------

    def wait(self, timeout_s: float) -> None:
        with self._lock:
            if self._stop.is_set() or any(e.state == "new" and e.due_ms <= now_ms() for e in self._tasks.values()):
                return
            self._lock.wait(max(0.0, timeout_s))

    def interrupt(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()


class MemoryBackend(Backend):
    def __init__(self, settings: QueueSettings):
        self.settings = settings
        self._queues: dict[str, MemoryQueue] = {}
        self._workers: dict[tuple[str, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def queue(self, name: str, create: bool = True) -> MemoryQueue:
        with self._lock:
            q = self._queues.get(name)
            if q is None:
                if not create:
                    raise NotFound(f"no queue named {name!r} in memory")
                q = self._queues[name] = MemoryQueue(checked_name(name), self.settings)
            return q

    def queues(self) -> builtins.list[str]:
        with self._lock:
            return sorted(self._queues)

    def register_worker(self, worker: dict[str, Any], ttl_s: float) -> None:
        with self._lock:
            self._workers[(worker["host"], worker["pid"])] = {**worker, "seen": now_ms(),
                                                             "ttl_ms": int(ttl_s * 1000)}

    def workers(self) -> builtins.list[dict[str, Any]]:
        now = now_ms()
        with self._lock:
            return [w for _, w in sorted(self._workers.items()) if now - w["seen"] <= w["ttl_ms"]]


def memory_backend(url: str, settings: QueueSettings) -> MemoryBackend:
    """The process's backend for `memory://NAME` (one per name, shared by everything that opens it)."""
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(url)
        if backend is None:
            backend = _BACKENDS[url] = MemoryBackend(settings)
        return backend


def _dumps(doc: dict[str, Any]) -> bytes:
    from ..jsonl import dumps  # imported on first use: listing an empty queue should not pay for it

    return dumps(doc)

