"""The queue interface every backend implements (the spool, and Redis Streams in queue/redis.py).

A task moves between states:

    new ──claim──▶ cur ──ack──▶ done
     ▲              │ ├─nack (attempts left)──▶ new (not_before = now + backoff)
     │              │ ├─nack (permanent / no attempts left)──▶ failed
     │              │ └─hold──▶ hold ──approve──▶ new   (reject ──▶ cancelled)
     └──retry── failed, cancelled          any live state ──cancel──▶ cancelled

`cur` holds leases: a lease names its owner and a deadline; `reap` puts a task whose lease expired, or
whose owner died, back in `new` (counting an attempt). A worker that finds its lease gone (the task was
cancelled or reaped) gets LeaseLost and must drop the task.
"""

from __future__ import annotations

import builtins
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

from .settings import QueueSettings

STATES = ("new", "cur", "hold", "done", "failed", "cancelled")
TERMINAL = ("done", "failed", "cancelled")
STATE_ALIASES = {"ready": "new", "queued": "new", "leased": "cur", "running": "cur", "held": "hold",
                 "dead": "failed", "canceled": "cancelled"}
QUEUE_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def checked_name(name: str) -> str:
    """A queue name as given by a user or a caller, refused unless it is a plain name."""
    import re

    from ..errors import UsageError

    if not isinstance(name, str) or not re.match(QUEUE_NAME_PATTERN, name):
        raise UsageError(f"bad queue name {str(name)[:80]!r}: lowercase letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit")
    return name


def checked_id(doc: dict[str, Any]) -> str:
    """A task's id before it names a file or a key: only the characters the schema allows."""
    import re

    from ..task import SAFE_ID

    task_id = doc.get("id")
    if not isinstance(task_id, str) or not re.match(SAFE_ID, task_id):
        raise ValueError(f"a task id must match {SAFE_ID}, not {str(task_id)[:80]!r}")
    return task_id


def state_name(text: str) -> str:
    state = STATE_ALIASES.get(text, text)
    if state not in STATES:
        raise ValueError(f"unknown state {text!r} (one of: {', '.join(STATES)})")
    return state


class Lease:
    """A claimed task. `doc` is the task as claimed; `handle` is the backend's name for the lease."""

    __slots__ = ("deadline_ms", "doc", "handle", "id", "lost", "mutex", "queue")

    def __init__(self, queue: str, id: str, doc: dict[str, Any], deadline_ms: int, handle: str):
        self.queue = queue
        self.id = id
        self.doc = doc
        self.deadline_ms = deadline_ms
        self.handle = handle
        self.lost = threading.Event()  # set once the backend finds the lease gone
        self.mutex = threading.Lock()  # serialises renewal, ack and nack of this lease

    def __repr__(self) -> str:
        return f"Lease({self.queue}/{self.id})"


class TaskInfo:
    """Where a task is, read from the backend's listing without opening the task."""

    __slots__ = ("changed_ms", "deadline_ms", "due_ms", "handle", "id", "owner", "priority", "queue", "state")

    def __init__(self, id: str, queue: str, state: str, *, priority: int | None = None, due_ms: int | None = None,
                 deadline_ms: int | None = None, owner: str | None = None, changed_ms: int | None = None,
                 handle: str | None = None):
        self.id = id
        self.queue = queue
        self.state = state
        self.priority = priority
        self.due_ms = due_ms  # new: when it may be claimed
        self.deadline_ms = deadline_ms  # cur: when the lease expires
        self.owner = owner  # cur: pid@host
        self.changed_ms = changed_ms  # last state change
        self.handle = handle  # the backend's own name for it

    def __repr__(self) -> str:
        return f"TaskInfo({self.queue}/{self.id}, {self.state})"


def backoff_s(attempts: int, settings: QueueSettings) -> float:
    """Exponential backoff with jitter: base·2^(attempts-1), capped, then scaled by 0.5–1.0."""
    import random

    delay = min(settings.backoff_max_s, settings.backoff_base_s * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.5, 1.0)


def next_attempt(doc: dict[str, Any], error: str, permanent: bool, settings: QueueSettings) -> tuple[str, int]:
    """Count a failed attempt in the task's meta and decide what comes next, for every backend and for
    stages reading stdin alike: ("new", due ms) to try again after a backoff, or ("failed", now) when
    the error is permanent or the attempts are used up."""
    from ..timeutil import now_ms, rfc3339

    meta = doc.setdefault("meta", {})
    meta["attempts"] = attempts = meta.get("attempts", 0) + 1
    meta["last_error"] = error
    meta.pop("hold_reason", None)
    if permanent or attempts >= meta.get("max_attempts", settings.max_attempts):
        meta.pop("not_before", None)
        return "failed", now_ms()
    due = now_ms() + int(1000 * backoff_s(attempts, settings))
    meta["not_before"] = rfc3339(due)
    return "new", due


class Queue(ABC):
    name: str
    settings: QueueSettings
    next_due_ms: int | None = None  # after a claim that found nothing ready: when the next delayed task is due

    @abstractmethod
    def put_many(self, docs: Iterable[dict[str, Any]], state: str = "new") -> builtins.list[str]:
        """Store tasks durably (one shared sync for the batch); their ids, once all are safe.

        `state` is "new" (ready, or delayed by meta.not_before) or "failed" (a dead letter)."""

    def put(self, doc: dict[str, Any]) -> str:
        return self.put_many([doc])[0]

    @abstractmethod
    def claim(self, n: int = 1, lease_s: float | None = None) -> builtins.list[Lease]:
        """Lease up to n ready tasks, highest priority and earliest due first."""

    @abstractmethod
    def heartbeat(self, lease: Lease, lease_s: float | None = None) -> None:
        """Extend a lease; raises LeaseLost when the task was cancelled or reaped."""

    @abstractmethod
    def ack(self, lease: Lease, doc: dict[str, Any] | None = None) -> None:
        """Finish a task (keeping `doc` as its final form if given); LeaseLost if the lease is gone."""

    @abstractmethod
    def nack(self, lease: Lease, error: str, *, permanent: bool = False,
             doc: dict[str, Any] | None = None) -> str:
        """Record a failed attempt: back to new with backoff, or to failed. Returns the new state."""

    @abstractmethod
    def hold(self, lease: Lease, doc: dict[str, Any], reason: str) -> None:
        """Park a leased task for a person (approve or reject)."""

    @abstractmethod
    def release(self, lease: Lease) -> None:
        """Give a lease back unchanged, without counting an attempt (a worker shutting down)."""

    @abstractmethod
    def cancel(self, task_id: str) -> str:
        """Cancel a task in new, cur, hold or failed. Returns the state it was in."""

    @abstractmethod
    def approve(self, task_id: str, route: str | None = None) -> None:
        """Move a held task back to new; given a route, placed on that route by a person. The approval
        itself is recorded outside the task (act/approvals.py), never in the document."""

    @abstractmethod
    def reject(self, task_id: str, reason: str = "") -> None:
        """Close a held task (to cancelled)."""

    @abstractmethod
    def retry(self, task_id: str) -> str:
        """Put a failed or cancelled task back in new with its attempts reset. Returns the old state."""

    @abstractmethod
    def list(self, state: str | None = None) -> Iterator[TaskInfo]:
        """Tasks in one state (or all), in service order for new."""

    @abstractmethod
    def get(self, task_id: str) -> tuple[TaskInfo, dict[str, Any]]:
        """One task by exact id: where it is and its document."""

    @abstractmethod
    def read(self, info: TaskInfo) -> dict[str, Any] | None:
        """The document of a listed task, or None if it moved on since it was listed."""

    @abstractmethod
    def find(self, prefix: str) -> builtins.list[TaskInfo]:
        """Tasks whose id starts with prefix."""

    @abstractmethod
    def purge(self, state: str, older_than_s: float) -> int:
        """Delete tasks in a terminal state that changed longer ago than older_than_s."""

    @abstractmethod
    def trim(self, state: str, keep: int) -> int:
        """Delete the oldest tasks of a finished state beyond the newest `keep`; how many went."""

    @abstractmethod
    def reap(self) -> dict[str, int]:
        """Requeue expired or orphaned leases, clear stale temporary files, apply retention."""

    def retain_done(self) -> int:
        """Apply the retention of done/ (queue.keep_done, keep_done_max); how many tasks went."""
        purged = self.purge("done", self.settings.keep_done_s)
        if self.settings.keep_done_max:
            purged += self.trim("done", self.settings.keep_done_max)
        return purged

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Depth per state, age of the oldest ready task, recent throughput."""

    @abstractmethod
    def wait(self, timeout_s: float) -> None:
        """Block until a task may have become ready, or timeout_s passed (no busy polling)."""

    @abstractmethod
    def interrupt(self) -> None:
        """Wake every `wait` at once (a worker shutting down)."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release watchers and connections."""


class Backend(ABC):
    @abstractmethod
    def queue(self, name: str, create: bool = True) -> Queue: ...

    @abstractmethod
    def queues(self) -> builtins.list[str]: ...

    @abstractmethod
    def register_worker(self, worker: dict[str, Any], ttl_s: float) -> None:
        """Say that a worker is alive ({"host", "pid", "command", "queue"}) for ttl_s; it says so again
        before that lapses."""

    @abstractmethod
    def workers(self) -> builtins.list[dict[str, Any]]:
        """The workers alive now, as they registered, with "seen" (when, ms)."""

    def state_watch(self) -> Any:
        """Something whose `read()` gives every (queue, task id, state) as the task enters it, and that sets
        `overflowed` when it missed some; None where the backend has no such watch (then listings are
        compared)."""
        return None

    def find(self, prefix: str, queue: str | None = None) -> builtins.list[TaskInfo]:
        names = [queue] if queue else self.queues()
        return [info for name in names for info in self.queue(name, create=False).find(prefix)]
