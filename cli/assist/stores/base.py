"""What makes actions safe and limits shared, as interfaces: the action journal, the approval records,
the rate-limit buckets, the alert budget and the models' health. Each has a local implementation (SQLite
and small files under the home's state/) and one in the Redis of a `redis://` queue, so that workers on
several machines share them (stores/__init__.py picks)."""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from typing import Any

from ..errors import TemporaryError

MAX_WAIT_S = 60.0  # an action waits this long for a rate-limit token in place; beyond it, the task waits
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class Journal(ABC):
    """One record per action, by idempotency key: started, done (with its result) or failed."""

    @abstractmethod
    def get(self, key: str) -> dict[str, Any] | None:
        """{"state", "result", "error"} of the action, or None when it never started."""

    @abstractmethod
    def record(self, key: str, task: str, kind: str, state: str, result: Any = None, error: str | None = None) -> None:
        ...

    @abstractmethod
    def forget(self, key: str) -> None:
        """The action did not happen after all (a temporary error): it may run again."""

    def started(self, key: str, task: str, kind: str) -> None:
        self.record(key, task, kind, "started")

    def done(self, key: str, task: str, kind: str, result: Any) -> None:
        self.record(key, task, kind, "done", result)

    def failed(self, key: str, task: str, kind: str, error: str) -> None:
        self.record(key, task, kind, "failed", error=error)


class Approvals(ABC):
    """A person's decisions about held tasks (act/approvals.py says what they mean)."""

    @abstractmethod
    def _record(self, task_id: str, kind: str, value: str, by: str) -> None: ...

    @abstractmethod
    def of(self, task_id: str) -> list[dict[str, Any]]:
        """Every decision recorded for a task, oldest first: {"kind", "value", "by", "at"}."""

    def approve_plan(self, task_id: str, digest: str, by: str) -> None:
        self._record(task_id, "plan", digest, by)

    def plan_approved(self, task_id: str, digest: str) -> bool:
        return any(d["kind"] == "plan" and d["value"] == digest for d in self.of(task_id))

    def choose_route(self, task_id: str, route: str, by: str) -> None:
        self._record(task_id, "route", route, by)

    def chosen_route(self, task_id: str) -> str | None:
        """The route a person gave the task last, if any."""
        routes = [d["value"] for d in self.of(task_id) if d["kind"] == "route"]
        return routes[-1] if routes else None


def parse_rate(spec: str) -> tuple[float, float]:
    """'20/m' -> (capacity 20, refill 20/60 per second)."""
    found = re.match(r"^\s*(\d+)\s*/\s*(s|m|h)\s*$", spec)
    if not found:
        raise ValueError(f"not a rate: {spec!r} (e.g. 20/m, 2/h)")
    count, unit = found.groups()
    return float(count), float(count) / _UNITS[unit]


class Limits(ABC):
    """Token buckets per action type (`[actions.limits] "email.send" = "20/m"`), shared by every worker."""

    @abstractmethod
    def try_take(self, kind: str, capacity: float, rate: float) -> float:
        """Take one token at once and return 0, or return how long until one is there (taking none)."""

    def take(self, kind: str, spec: str) -> None:
        """Take one token, waiting up to MAX_WAIT_S; TemporaryError when it would take longer."""
        capacity, rate = parse_rate(spec)
        while True:
            wait = self.try_take(kind, capacity, rate)
            if wait == 0.0:
                return
            if wait > MAX_WAIT_S:
                raise TemporaryError(f"{kind}: rate limit {spec.strip()} reached; retrying later")
            time.sleep(wait)


class AlertBudget(ABC):
    """How many alerts may go out per period, shared by every worker; the ones held back are counted."""

    @abstractmethod
    def admit(self, limit: int, period_s: float) -> int | None:
        """None when over the budget (counted as held back); else how many were held back since the last."""


class Health(ABC):
    """The models' health as last probed: {name: {"ok", "at", "error"}}, shared by every worker."""

    @abstractmethod
    def read(self) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def write(self, name: str, ok: bool, error: str | None) -> None: ...
