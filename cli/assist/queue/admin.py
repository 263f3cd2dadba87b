"""Queue administration across queues: finding tasks by id prefix, listings and stats for `assist queue`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import AssistError, NotFound, UsageError
from ..timeutil import now_ms, rfc3339
from .base import Backend, TaskInfo


def resolve(backend: Backend, prefix: str, queue: str | None = None) -> TaskInfo:
    """The one task whose id starts with prefix (ids may be shortened while they stay unique).

    A task passed from one queue to the next keeps its id; then the copy still in play (not done) is the
    one meant, else the latest.
    """
    if not prefix:
        raise UsageError("an empty id matches every task")
    matches = backend.find(prefix, queue)
    ids = sorted({m.id for m in matches})
    if not ids:
        where = f" in queue {queue}" if queue else ""
        raise NotFound(f"no task with an id starting {prefix!r}{where}")
    if len(ids) > 1:
        shown = ", ".join(ids[:5])
        raise UsageError(f"id prefix {prefix!r} is ambiguous: {shown}{' …' if len(ids) > 5 else ''}")
    return max(matches, key=lambda m: (m.state not in ("done", "cancelled"), m.changed_ms or 0))


@dataclass
class Row:
    info: TaskInfo
    doc: dict[str, Any] | None

    def as_dict(self, told: AccountsTold | None = None) -> dict[str, Any]:
        """The row as listings show it (`told`: which of the person's accounts, act/which_account.py)."""
        out: dict[str, Any] = {"id": self.info.id, "queue": self.info.queue, "state": self.info.state}
        if self.info.priority is not None:
            out["priority"] = self.info.priority
        if self.info.due_ms is not None:
            out["due"] = rfc3339(self.info.due_ms)
        if self.info.deadline_ms is not None:
            out["lease_deadline"] = rfc3339(self.info.deadline_ms)
            out["owner"] = self.info.owner
        if self.info.changed_ms is not None:
            out["changed"] = rfc3339(self.info.changed_ms)
        if self.doc is not None:
            meta = self.doc.get("meta", {})
            out["type"] = self.doc.get("type")
            out["about"] = about(self.doc)
            out["priority"] = self.doc.get("priority", out.get("priority"))
            out["attempts"] = meta.get("attempts", 0)
            out["created"] = self.doc.get("created")
            if meta.get("last_error"):
                out["last_error"] = meta["last_error"]
            if meta.get("hold_reason"):
                out["hold_reason"] = meta["hold_reason"]
            came_to = told.came_to(self.doc) if told else None
            if came_to:
                out["came_to"] = came_to
            planned = awaiting(self.doc, told)
            if planned:
                from ..act.approvals import plan_digest

                out["awaiting"] = planned
                out["plan"] = plan_digest(self.doc["actions"])  # given back with an approval: change(plan=)
        return out


class AccountsTold(Protocol):
    """Which of the person's accounts a held task is about, when they have several (act/which_account.py)."""

    def came_to(self, task: dict[str, Any]) -> str | None: ...

    def notice(self, task: dict[str, Any], kind: str) -> str | None: ...


def awaiting(doc: dict[str, Any], told: AccountsTold | None = None) -> list[dict[str, Any]]:
    """The actions of a task that wait for a person: type and args, and the notices for the person
    approving it (lookalikes.py): where each really goes, what a draft the model wrote says that nothing it
    was given does and the blanks it left (ai/grounding.py), with several accounts the address a send goes
    out from or the account an action on the mail is done in (`told`), and, for a mail's task, where the
    mail is really from (a reply drafted to a mail whose From line the provider could not confirm)."""
    from ..ai.grounding import draft_notices
    from ..lookalikes import notices, sender
    from ..task import is_mail

    data = doc.get("data")
    behind = sender(data) if is_mail(doc) and isinstance(data, dict) else ""
    out = []
    for action in doc.get("actions") or []:
        if isinstance(action, dict) and action.get("status") == "awaiting_approval":
            waiting = {"type": action.get("type"), "args": action.get("args", {})}
            account = told.notice(doc, str(waiting["type"])) if told else None
            found = notices(waiting["args"]) + draft_notices(doc, waiting["args"]) + ([account] if account else [])
            found += [f"the mail behind it: {behind}"] if behind else []
            found += [f"it forwards: {forwarded}"] if (forwarded := _forwarded(doc, waiting)) else []
            if found:
                waiting["notices"] = found
            out.append(waiting)
    return out


def _forwarded(doc: dict[str, Any], action: dict[str, Any]) -> str:
    """The line of the mail a request's forward sends on (asking.py: its search's), "" for other actions."""
    from ..printable import printable

    data = doc.get("data")
    found = data.get("found") if action.get("type") == "email.forward" and isinstance(data, dict) else None
    return printable(str(found[0]))[:300] if isinstance(found, list) and found else ""


SHOWN_CHARS = 4000  # of one argument, when a plan is shown for approval


def plan_text(planned: list[dict[str, Any]], task_id: str) -> list[str]:
    """What a person approving a task reads: each waiting action and every argument, as it will run (a
    text in full up to SHOWN_CHARS, its lines kept, indented), made safe for a terminal, then where it
    really goes."""
    import orjson

    from ..printable import printable

    lines = []
    for action in planned:
        lines.append(f"{printable(str(action['type']))}:")
        args = action.get("args")
        for name, value in (args.items() if isinstance(args, dict) else [("args", args)]):
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                text = ", ".join(value)
            else:
                text = value if isinstance(value, str) else orjson.dumps(value).decode()
            more = len(text) - SHOWN_CHARS
            text = printable(text[:SHOWN_CHARS], keep_lines=True).replace("\n", "\n      ")
            lines.append(f"  {printable(str(name))}: {text}"
                         + (f"\n      … {more} more characters (`assist queue show {task_id}` has them all)"
                            if more > 0 else ""))
        lines += [f"  look: {printable(n)}" for n in action.get("notices", [])]
    return lines


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def about(doc: dict[str, Any], width: int = 60) -> str:
    """What a task is about, in a few words: a mail's subject, the start of a text, a file's path."""
    data = doc.get("data")
    if not isinstance(data, dict):
        return ""
    for key in ("subject", "text", "path", "name", "url"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return shorten(" ".join(value.split()), width)
    return ""


def listing(backend: Backend, queues: list[str], states: list[str], limit: int | None) -> tuple[list[Row], int]:
    """Rows for `queue ls` (documents read for the first `limit` only) and the count of all matches. A
    task that moves while it is listed is shown once, where it is now (or not at all when it moved out
    of the states asked for, or was purged)."""
    rows: list[Row] = []
    total = 0
    seen: set[str] = set()
    for name in queues:
        q = backend.queue(name, create=False)
        for state in states:
            for info in q.list(state):
                if info.id in seen:  # moved on into a state listed after the one it was first seen in
                    continue
                seen.add(info.id)
                if limit is not None and len(rows) >= limit:
                    total += 1
                    continue
                row = current_row(q, info, states)
                if row is not None:
                    rows.append(row)
                    total += 1
    return rows, total


def current_row(q: Any, info: TaskInfo, states: list[str]) -> Row | None:
    """The row of a listed task with its document; when the document is gone from where it was listed,
    the task where it is now, None if that is not among `states` or it is gone. A document that cannot
    be read stays listed without it."""
    doc = q.read(info)
    if doc is not None:
        return Row(info, doc)
    try:
        found, doc = q.get(info.id)
    except NotFound:
        return None
    except AssistError:  # unreadable where it is (queue/checks.py keeps such files aside): shown as is
        return Row(info, None)
    return Row(found, doc) if found.state in states else None


def describe(row: dict[str, Any]) -> str:
    """The INFO column: what a person wants to know about the task in its state."""
    now = now_ms()
    state = row["state"]
    if state == "new" and row.get("due"):
        from ..timeutil import human_age, parse_rfc3339

        wait = (parse_rfc3339(row["due"]) - now) / 1000
        if wait > 0:
            return f"due in {human_age(wait)}" + (f"; last error: {row['last_error']}" if row.get("last_error") else "")
    if state == "cur":
        return f"leased by {row.get('owner')}"
    if state == "hold":
        awaiting = row.get("awaiting")
        if awaiting:
            look = "; ".join(n for a in awaiting for n in a.get("notices", []))
            return "would run: " + ", ".join(a["type"] for a in awaiting) + (f" (look: {look})" if look else "")
        return "; ".join(filter(None, (row.get("hold_reason", ""), row.get("came_to"))))
    return row.get("last_error", "")


VERBS = ("retry", "cancel", "approve", "reject")


def show(backend: Backend, prefix: str, queue: str | None = None, approvals: Any = None) -> dict[str, Any]:
    """One task: where it is, its whole document and the decisions a person recorded for it
    (`assist queue show`, GET /api/tasks/ID)."""
    info = resolve(backend, prefix, queue)
    found, doc = backend.queue(info.queue, create=False).get(info.id)
    out = {"queue": found.queue, "state": found.state, "task": doc}
    if approvals is not None:
        out["approvals"] = approvals.of(info.id)
    return out


def change(backend: Backend, prefix: str, verb: str, queue: str | None = None, reason: str = "",
           route: str | None = None, routes: dict[str, dict[str, Any]] | None = None, approvals: Any = None,
           by: str = "cli", learn: Callable[[dict[str, Any]], bool] | None = None,
           plan: str | None = None) -> dict[str, Any]:
    """Retry, cancel, approve or reject one task; {"queue", "id", "verb", "was"?, "route"?, "learned"?}.

    `learn` is given the document of a task a person rejected (decide/engine.py learn_rejection) and
    says whether it kept it; a failure to learn is reported in "not_learned", the rejection stands.

    An approval is recorded in `approvals` (act/approvals.py) before the task moves on: for a task held
    by its actions, the digest of the exact plan the person saw; for a task held because no route was
    sure, the route they gave it (`route`, one of `routes`, the configured ones by name, that takes the
    task's type: task.takes). `by` says who decided (cli, api:NAME, top).
    With `plan` (the digest of the plan the person was shown: a listing's "plan"), a plan that is no
    longer that one is not approved (Conflict).
    """
    if verb not in VERBS:
        raise UsageError(f"unknown action {verb!r} (choose from {', '.join(VERBS)})")
    if route is not None and verb != "approve":
        raise UsageError("a route goes with approve")
    info = resolve(backend, prefix, queue)
    q = backend.queue(info.queue, create=False)
    out: dict[str, Any] = {"queue": info.queue, "id": info.id, "verb": verb}
    result: Any = None
    if verb == "approve":
        _approve(q, info, route, routes or {}, approvals, by, plan)
    elif verb == "reject":
        _, doc = q.get(info.id)
        result = q.reject(info.id, reason)
        if learn is not None:
            try:
                out["learned"] = learn(doc)
            except (AssistError, OSError) as exc:
                out["not_learned"] = str(exc)
    else:
        if verb == "retry":
            _retryable(q, info)
        result = getattr(q, verb)(info.id)
    if isinstance(result, str):
        out["was"] = result
    if route:
        out["route"] = route
    return out


def _retryable(q: Any, info: TaskInfo) -> None:
    """A record of something that was not a task (queue/checks.py) cannot be retried: it has no task."""
    from ..errors import Conflict
    from .checks import INVALID_TYPE

    _, doc = q.get(info.id)
    if doc.get("type") == INVALID_TYPE:
        where = (doc.get("data") or {}).get("kept_as")
        raise Conflict(f"task {info.id} is not a task ({(doc.get('data') or {}).get('reason')}); nothing to retry"
                       + (f": the original is kept as {where} in the spool" if where else ""))


def _approve(q: Any, info: TaskInfo, route: str | None, routes: dict[str, dict[str, Any]], approvals: Any,
             by: str, plan: str | None = None) -> None:
    from ..act.approvals import plan_digest, waiting
    from ..errors import Conflict
    from ..task import not_taken, offered_routes, takes

    if approvals is None:
        raise UsageError("approving needs the home's approval records")
    if route is not None and route not in routes:
        raise UsageError(f"no route named {route!r} (configured: {', '.join(routes) or 'none'})")
    found, doc = q.get(info.id)
    task_type = str(doc.get("type", ""))
    unplaced = (doc.get("intent") or {}).get("route") == "fallback"
    if route is not None and not unplaced:
        raise UsageError(f"task {info.id} has a route already; approve it without --route")
    if route is not None and not takes(routes[route], task_type):
        raise UsageError(f"task {info.id}: {not_taken(route, routes, task_type)}")
    if found.state != "hold":
        raise Conflict(f"task {info.id} is {found.state}, not waiting for approval (hold)")
    if route is not None:
        approvals.choose_route(info.id, route, by)
    elif unplaced:
        raise UsageError(f"task {info.id} has no route yet: give it one with --route NAME (routes that take a "
                         f"{task_type}: {', '.join(offered_routes(routes, task_type)) or 'none'})")
    elif waiting(doc.get("actions") or []):
        digest = plan_digest(doc["actions"])
        if plan is not None and plan != digest:
            raise Conflict(f"task {info.id}'s plan changed since it was shown; nothing approved: look again")
        approvals.approve_plan(info.id, digest, by)
    q.approve(info.id, route)
