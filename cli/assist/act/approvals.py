"""A person's decisions about held tasks, kept outside the task documents (in the home's stores: SQLite
under state/, or the queue's Redis; stores/).

A task document is data: whatever it says about itself (`meta.approved`, `intent.by = "person"`, an
`actions` list with statuses) is never taken as authority. `assist queue approve` (and the API, and
`assist top`) record here what the person approved: the exact plan of a task (a digest of the actions it
would run), or the route they gave a task nobody could place. `assist act` runs a `confirm` action only
when the plan it made from the route has an approval with the same digest; a plan that changed since
(another config, another model reply) waits again.
"""

from __future__ import annotations

import hashlib
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
