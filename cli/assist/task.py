"""Task documents: ids, the JSON Schema check, and the fields enqueue fills in (docs/design.md)."""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

from .timeutil import now_ms, rfc3339

Task = dict[str, Any]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last: list[int] = [0, 0]  # last timestamp (ms), last random part


def new_id(ms: int | None = None) -> str:
    """A 26-character, lexicographically sortable id (ULID layout: 48-bit time, 80-bit random).

    Ids made in one process are strictly increasing, even within one millisecond.
    """
    ms = now_ms() if ms is None else ms
    with _id_lock:
        if ms <= _last[0]:
            ms = _last[0]
            rand = _last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to count up
        _last[0], _last[1] = ms, rand
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -5, -5))


def stable_id(key: str, ms: int | None = None) -> str:
    """An id made from what identifies an event at its source (a Maildir key, an IMAP UID), laid out as
    new_id's: the same event gets the same id on every run, so a queue stores it once (a put of an id it
    holds is skipped) and its actions keep their journal keys, however often it is ingested."""
    import hashlib

    ms = min(max(0, ms or 0), (1 << 48) - 1)
    rand = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -5, -5))


@cache
def _validator():
    import jsonschema_rs

    schema = (Path(__file__).parent / "schemas" / "task.schema.json").read_bytes()
    import orjson

    return jsonschema_rs.validator_for(orjson.loads(schema))


def problems(doc: Any) -> list[str]:
    """Every schema violation of a task document, each as 'path: message'; empty when valid."""
    validator = _validator()
    if validator.is_valid(doc):
        return []
    out = []
    for error in validator.iter_errors(doc):
        path = "/".join(str(p) for p in error.instance_path) or "(document)"
        out.append(f"{path}: {error.message}")
    return out


def normalize(doc: Task, *, source: str, priority: int | None = None, max_attempts: int = 5,
              timeout_s: float | None = None, not_before_ms: int | None = None) -> Task:
    """Fill in what enqueue owns: id, created, source, priority and meta. Returns the same dict."""
    if "id" not in doc:
        doc["id"] = new_id()
    doc.setdefault("created", rfc3339())
    doc.setdefault("source", source)
    if priority is not None:
        doc["priority"] = priority
    else:
        doc.setdefault("priority", 5)
    meta = doc.setdefault("meta", {})
    meta.setdefault("attempts", 0)
    meta.setdefault("max_attempts", max_attempts)
    if timeout_s is not None:
        meta["timeout_s"] = timeout_s
    if not_before_ms is not None:
        meta["not_before"] = rfc3339(not_before_ms)
    return doc


# What the stages own: a document that arrives from outside (a line of `ingest stdin`, a message of
# `ingest ws`) may not bring them, nor choose its id, its queue bookkeeping or its place in the queue
# (priority 0 and a creation time in 1970 were served before all the mail waiting; docs/actions.md).
STAGE_SECTIONS = ("intent", "prompt", "result", "actions", "trace", "meta", "id", "source", "created", "priority")
SAFE_ID = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$"


def is_request(task: Task) -> bool:
    """A typed request: the person's own words (`assist ask`), routed among the request routes."""
    return task.get("type") == "request"


def is_mail(task: Task) -> bool:
    """A mail (`email.*`), read from the message itself by mail ingestion: the only task whose
    data.message_id names a message of the person's mailbox that is its own."""
    return str(task.get("type", "")).startswith("email.")


def mail_folder(task: Task) -> str:
    """The folder a task's mail was read from (data.imap.folder), else INBOX: where an action that names
    no folder finds it, and the only one a model may name for it."""
    data = task.get("data")
    noted = data.get("imap") if isinstance(data, dict) else None
    folder = noted.get("folder") if isinstance(noted, dict) else None
    return folder if isinstance(folder, str) and folder else "INBOX"


def is_file_event(task: Task) -> bool:
    """A watched folder's event (`file.*`, ingest/watch.py): the only task whose data.path is a file of
    the person's that is its own."""
    return str(task.get("type", "")).startswith("file.")


def takes(route: dict[str, Any], task_type: str) -> bool:
    """Whether a route takes tasks of this type: a request route (`request = true`) typed requests only;
    any other route what its `types` globs match (`types = ["email.*"]`), every type but a typed request
    when it has none. A task is never placed on a route that does not take it: by a rule, the intent
    model, the LLM fallback or a person."""
    from fnmatch import fnmatchcase

    if route.get("request") or task_type == "request":
        return bool(route.get("request")) and task_type == "request"
    types = route.get("types")
    return types is None or any(fnmatchcase(task_type, str(glob)) for glob in types)


# the actions that send mail to an address their arguments name: one a model proposes can go anywhere
SENDS_MAIL = ("email.send", "email.reply", "gmail.send")
WRITES_MAIL = (*SENDS_MAIL, "email.draft", "email.forward", "gmail.draft")  # mail to an address, sent or in Drafts


def writes_mail(route: dict[str, Any]) -> list[str]:
    """The kinds of action of a route that write mail (WRITES_MAIL), drafted or sent, to an address the
    task or a model chooses: one a model may propose (listed, not fixed: plan.proposal_schema), or a fixed
    one whose `to` or `cc` is a template (`{{ data.from }}`). Not a fixed one to an address written in the
    config (a summary mailed to the person themselves)."""
    fixed = [a for a in route.get("fixed", []) if isinstance(a, dict)]
    chosen = [a.get("type") for a in fixed
              if any("{" in str((a.get("args") or {}).get(key, "")) for key in ("to", "cc"))]
    taken = {a.get("type") for a in fixed}
    kinds = [*chosen, *(k for k in [*route.get("actions", []), *route.get("confirm", [])] if k not in taken)]
    return [kind for kind in dict.fromkeys(kinds) if kind in WRITES_MAIL]


def offered_routes(routes: dict[str, dict[str, Any]], task_type: str) -> list[str]:
    """The names of the routes that take a task of this type, in the config's order."""
    return [name for name, route in routes.items() if takes(route, task_type)]


def not_taken(name: str, routes: dict[str, dict[str, Any]], task_type: str) -> str:
    """Why route `name` (of `routes`) does not take a task of this type, and which do, in a sentence to
    show a person."""
    route = routes[name]
    if route.get("request"):
        why = f"route {name} takes typed requests only (assist ask), not {task_type}"
    elif task_type == "request":
        why = f"route {name} is not a request route; a typed request takes a route with request = true"
    else:
        why = f"route {name} takes {', '.join(map(str, route.get('types') or []))} tasks, not {task_type}"
    return f"{why} (routes that take it: {', '.join(offered_routes(routes, task_type)) or 'none'})"


def only_assist_makes(task: Task) -> bool:
    """A type that only assist's own sources make: a request (the person's own words), a mail (read from
    the message itself by mail ingestion, whose Message-ID the mail actions act on) or a watched file's
    event (whose path the file actions act on). A feed's document of such a type speaks for no one."""
    return is_request(task) or is_mail(task) or is_file_event(task)


def from_outside(doc: Task, *, source: str) -> Task:
    """An event document from an untrusted source: the sections stages own are dropped (and named in
    meta.dropped), then what enqueue owns is filled in afresh. Returns the same dict."""
    dropped = [key for key in STAGE_SECTIONS if key in doc]
    for key in dropped:
        del doc[key]
    normalize(doc, source=source)
    if dropped:
        doc["meta"]["dropped"] = dropped
    return doc


def fresh_for_next_queue(doc: Task) -> Task:
    """A task leaving one queue for the next starts with its attempts counted afresh."""
    meta = doc.get("meta")
    if meta:
        meta["attempts"] = 0
        for key in ("not_before", "last_error", "hold_reason"):
            meta.pop(key, None)
    return doc


def routed_by_person(doc: Task, route: str) -> None:
    """A person chose the route of a task that no rule or model placed (approve --route): the decision
    is recorded as theirs, keeping what the engine had said; classify leaves it alone from then on."""
    before = doc.get("intent") or {}
    doc["intent"] = {"route": route, "labels": [{"name": route, "score": 1.0}], "by": "person", "confidence": 1.0,
                     "engine": {k: before[k] for k in ("route", "by", "confidence", "top") if k in before}}
