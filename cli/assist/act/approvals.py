"""A person's decisions about held tasks, kept outside the task documents (in state/actions.db).

A task document is data: whatever it says about itself (`meta.approved`, `intent.by = "person"`, an
`actions` list with statuses) is never taken as authority. `assist queue approve` (and the API, and
`assist top`) record here what the person approved: the exact plan of a task (a digest of the actions it
would run), or the route they gave a task nobody could place. `assist act` runs a `confirm` action only
when the plan it made from the route has an approval with the same digest; a plan that changed since
(another config, another model reply) waits again.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

RUNNABLE = ("planned", "awaiting_approval")


def plan_digest(actions: list[dict[str, Any]]) -> str:
    """What identifies a plan: the type, arguments and key of every action it would run, in order."""
    import orjson

    runnable = [[a.get("type"), a.get("args"), a.get("key")] for a in actions if a.get("status") in RUNNABLE]
    return hashlib.sha256(orjson.dumps(runnable, option=orjson.OPT_SORT_KEYS)).hexdigest()


def waiting(actions: list[dict[str, Any]]) -> list[str]:
    """The types of the actions that wait for a person."""
    return [a["type"] for a in actions if a.get("status") == "awaiting_approval"]


class Approvals:
    def __init__(self, home: Path):
        from .journal import open_db

        self.db = open_db(home)
        self.db.execute("CREATE TABLE IF NOT EXISTS approvals (task TEXT, kind TEXT, value TEXT, by TEXT, at REAL,"
                        " PRIMARY KEY (task, kind, value))")

    def _record(self, task_id: str, kind: str, value: str, by: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
                        (task_id, kind, value, by, time.time()))

    def approve_plan(self, task_id: str, digest: str, by: str) -> None:
        self._record(task_id, "plan", digest, by)

    def plan_approved(self, task_id: str, digest: str) -> bool:
        row = self.db.execute("SELECT 1 FROM approvals WHERE task = ? AND kind = 'plan' AND value = ?",
                              (task_id, digest)).fetchone()
        return row is not None

    def choose_route(self, task_id: str, route: str, by: str) -> None:
        self._record(task_id, "route", route, by)

    def chosen_route(self, task_id: str) -> str | None:
        """The route a person gave the task last, if any."""
        row = self.db.execute("SELECT value FROM approvals WHERE task = ? AND kind = 'route' ORDER BY at DESC LIMIT 1",
                              (task_id,)).fetchone()
        return row[0] if row else None

    def of(self, task_id: str) -> list[dict[str, Any]]:
        """Every decision recorded for a task (for `assist queue show`)."""
        from ..timeutil import rfc3339

        rows = self.db.execute("SELECT kind, value, by, at FROM approvals WHERE task = ? ORDER BY at", (task_id,))
        return [{"kind": kind, "value": value, "by": by, "at": rfc3339(int(at * 1000))} for kind, value, by, at in rows]
