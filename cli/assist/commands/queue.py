"""`assist queue`: administer the queues (ls, show, retry, cancel, approve, reject, purge, stats, reap)."""

from __future__ import annotations

from typing import Any

import click

from ..queue.admin import about, change
from ._common import backend, load_config, print_json, print_table
from ._common import queue_name as checked_queue

LIVE_STATES = ["new", "cur", "hold", "failed"]


def _states(text: str | None) -> list[str]:
    from ..queue.base import STATES, state_name

    if text is None:
        return LIVE_STATES
    if text == "all":
        return list(STATES)
    try:
        return [state_name(part.strip()) for part in text.split(",")]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from None


def _queues(b: object, name: str | None) -> list[str]:
    if name:
        if name not in b.queues():  # type: ignore[attr-defined]
            raise click.BadParameter(f"no queue named {name!r}", param_hint="--queue")
        return [name]
    return b.queues()  # type: ignore[attr-defined]


@click.group()
def queue() -> None:
    """List, inspect, retry, cancel and approve queued tasks.

    States: new (ready or delayed), cur (leased to a worker), hold (awaiting approval), done, failed
    (dead letter), cancelled. Ids may be given by any unique prefix.

    \b
    Examples:
      assist queue ls --state failed
      assist queue show 01JD3K
      assist queue retry --failed --queue inbox
      assist queue stats --json
    """


@queue.command("ls")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue,
              help="Only this queue (default: all).")
@click.option("--state", "-s", default=None, metavar="STATE[,STATE]",
              help="new, cur, hold, done, failed, cancelled or all (default: new,cur,hold,failed).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array with every field.")
def ls(queue_name: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """List tasks, in service order within each queue.

    \b
    Examples:
      assist queue ls
      assist queue ls --queue inbox --state hold
      assist queue ls --state all --json | jq '.[].id'

    ABOUT is what the task is about (a mail's subject, the start of a text, a file); INFO what a person
    wants to know in its state (when it is due, who holds it, what it would do, its last error).
    """
    states = _states(state)
    config = load_config()
    b = backend(config)
    queues = _queues(b, queue_name)
    if not queues:
        if as_json:
            print_json([])
        else:
            click.echo("no queues yet (tasks arrive with `assist enqueue` or `assist ingest ... --to QUEUE`)")
        return
    from ..act.which_account import told
    from ..queue.admin import describe, listing, shorten
    from ..timeutil import human_age, now_ms, parse_rfc3339

    rows, total = listing(b, queues, states, limit)
    accounts = told(config)
    data = [r.as_dict(accounts) for r in rows]
    if as_json:
        print_json(data)
        return
    now = now_ms()
    table = []
    for d in data:
        created = d.get("created")
        age = human_age((now - parse_rfc3339(created)) / 1000) if created else ""
        table.append([d["id"], d["queue"], d["state"], d.get("priority", ""), d.get("type", ""),
                      d.get("attempts", ""), age, shorten(d.get("about", ""), 32), describe(d)])
    if table:
        print_table(["id", "queue", "state", "pri", "type", "tries", "age", "about", "info"], table)
    else:
        click.echo(f"no tasks in {', '.join(states)}")
    if total > len(rows):
        click.echo(f"… {total - len(rows)} more (use --limit or --state)", err=True)


@queue.command()
@click.argument("task_id")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Look only in this queue.")
def show(task_id: str, queue_name: str | None) -> None:
    """Print one task: where it is and its whole document, as JSON.

    \b
    Example:
      assist queue show 01JD3K
    """
    from ..queue.admin import show as show_task
    from ..stores import open_stores

    config = load_config()
    print_json(show_task(backend(config), task_id, queue_name, open_stores(config).approvals))


def _one(task_id: str, queue_name: str | None, verb: str, reason: str = "", route: str | None = None,
         ask: bool = False) -> None:
    import os

    from ..decide.engine import rejection_learner
    from ..stores import open_stores

    config = load_config()
    by = f"cli:{os.environ.get('USER') or os.getuid()}"
    plan = _shown_and_agreed(config, task_id, queue_name) if ask else None
    done = change(backend(config), task_id, verb, queue_name, reason, route, config.routes,
                  open_stores(config).approvals, by=by, learn=rejection_learner(config, by), plan=plan)
    click.echo(f"{verb}: {done['queue']}/{done['id']}" + (f" (was {done['was']})" if "was" in done else "")
               + (f" on route {route}" if route else "")
               + ("; similar tasks will be held for you" if done.get("learned") else ""))
    if "not_learned" in done:
        click.echo(f"assist: the rejection was not learned: {done['not_learned']}", err=True)


def _shown_and_agreed(config: Any, task_id: str, queue_name: str | None) -> str | None:
    """On a terminal: what the held task would run, shown in full, and the person's yes (else exit 1,
    nothing approved). Returns the digest of the plan shown, so that only that plan is approved; None
    when the task has no actions waiting (a route to choose: --route)."""
    from ..act.approvals import plan_digest
    from ..act.which_account import told
    from ..errors import Conflict
    from ..queue.admin import awaiting, plan_text
    from ..queue.admin import show as show_task

    found = show_task(backend(config), task_id, queue_name)
    planned = awaiting(found["task"], told(config)) if found["state"] == "hold" else []
    if not planned:
        return None
    task = found["task"]
    # on stderr, as the question is: stdout keeps what was done, and a pipe after it does not hide them
    click.echo(f"{task['id']} ({found['queue']}, {about(task) or task.get('type')}) would run:", err=True)
    for line in plan_text(planned, task["id"]):
        click.echo(line, err=True)
    if not click.confirm("approve?", default=False, err=True):
        raise Conflict(f"not approved: {task['id']} stays held (`assist queue reject {task['id']}` closes it)")
    return plan_digest(task["actions"])


@queue.command()
@click.argument("task_id", required=False)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed task (in --queue, or all queues).")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Only this queue.")
def retry(task_id: str | None, all_failed: bool, queue_name: str | None) -> None:
    """Put a failed or cancelled task back to new, with its attempts reset.

    \b
    Examples:
      assist queue retry 01JD3K
      assist queue retry --failed --queue inbox
    """
    if bool(task_id) == all_failed:
        raise click.UsageError("give a task id or --failed, not both")
    if task_id:
        _one(task_id, queue_name, "retry")
        return
    from ..errors import AssistError

    b = backend(load_config())
    count = skipped = 0
    for name in _queues(b, queue_name):
        for info in list(b.queue(name, create=False).list("failed")):
            try:
                change(b, info.id, "retry", name)
                count += 1
            except AssistError as exc:  # not a task (a damaged file's record), or it moved meanwhile
                click.echo(f"assist: skipped {name}/{info.id}: {exc}", err=True)
                skipped += 1
    click.echo(f"retried {count} failed task(s)" + (f", skipped {skipped}" if skipped else ""))


@queue.command()
@click.argument("task_id")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Look only in this queue.")
def cancel(task_id: str, queue_name: str | None) -> None:
    """Cancel a task that is new, leased, held or failed. A worker running it notices and drops it.

    \b
    Example:
      assist queue cancel 01JD3K
    """
    _one(task_id, queue_name, "cancel")


@queue.command()
@click.argument("task_id")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Look only in this queue.")
@click.option("--route", default=None, metavar="NAME",
              help="For a task held because no route was sure: put it on this route, one that takes the task's "
                   "type (its confirmations still apply).")
@click.option("--yes", "-y", is_flag=True, help="Do not show the plan and ask (on a terminal it is shown, then asked).")
def approve(task_id: str, queue_name: str | None, route: str | None, yes: bool) -> None:
    """Approve a held task: it goes back to its queue and runs what it proposed.

    On a terminal, what it would run is shown first, every argument as it will run (the addresses, the
    whole text of a mail; where an address or link really goes, when it reads as another), and you are
    asked; no answers no (exit 1, it stays held). Not on a terminal (a script), or with --yes, it is
    approved without asking. The approval is recorded in the home's state (not in the task), for that
    exact plan: if the plan changes before it runs, it waits again. A task held because neither the
    rules nor the intent model placed it needs a route instead: give it one with --route, and it goes
    on as if classified so (`intent.by` = "person").

    \b
    Examples:
      assist queue ls --state hold      # what waits for you
      assist queue approve 01JD3K       # shows what it would run, then asks
      assist queue approve 01JD7Q --route triage
    """
    import sys

    _one(task_id, queue_name, "approve", route=route, ask=not yes and route is None and sys.stdin.isatty())


@queue.command()
@click.argument("task_id")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Look only in this queue.")
@click.option("--reason", default="", help="Why, recorded in the task.")
def reject(task_id: str, queue_name: str | None, reason: str) -> None:
    """Reject a held task: it is closed (cancelled) and nothing it proposed runs.

    A task that had a route is kept as a rejection of that route (not its text: docs/classify.md): the
    next task nearly the same is held for you instead of taking that route again.

    \b
    Example:
      assist queue reject 01JD3K --reason "not this one"
    """
    _one(task_id, queue_name, "reject", reason)


@queue.command()
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Only this queue.")
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
def tidy(queue_name: str | None, dry_run: bool) -> None:
    """Stop asking about held mail you handled in your mail client meanwhile.

    Each held mail is looked at in the account it was read from ([actions.imap], or another of yours,
    [actions.imap.accounts.NAME]; an account out of reach is said, and the others' mail looked at): one
    you moved into the folder a
    route files in ("Receipts", "Junk") is approved on that route, as if you had chosen it (one held
    with another route is closed, and learned as that folder's route); one you deleted, archived or
    answered (a reply in Sent) is closed, learning nothing; the others still wait. `assist init`'s
    schedule runs it every hour.

    \b
    Examples:
      assist queue tidy --dry-run
      assist queue tidy
    """
    from ..errors import joined
    from ..handled import handled, held_mail, settle
    from ..printable import printable

    config = load_config()
    b = backend(config)
    found, waiting, faults = handled(config, held_mail(b, _queues(b, queue_name)))
    outcomes = [(item, None) for item in found] if dry_run else settle(config, b, found)
    would = "would be " if dry_run else ""
    for item, problem in outcomes:
        what = f"{would}approved on route {item.route}" if item.verb == "approve" else f"{would}closed"
        line = f"{item.queue}/{item.id} ({printable(item.about)}): {what}: {item.why}"
        click.echo(line if problem is None else f"{item.queue}/{item.id}: left as it is ({problem})")
    settled = sum(1 for _, problem in outcomes if problem is None)
    click.echo(f"{settled} held task(s) handled in your mail client{' (dry run)' if dry_run else ''}; "
               f"{waiting + len(outcomes) - settled} still wait for you")
    if faults:
        raise joined(faults)  # exit 69 for a server out of reach


@queue.command()
@click.option("--state", "-s", default="done", show_default=True, type=click.Choice(["done", "failed", "cancelled"]))
@click.option("--older-than", default=None, metavar="DURATION",
              help="e.g. 7d, 12h, 30m. Without it: apply the configured retention.")
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Only this queue.")
def purge(state: str, older_than: str | None, queue_name: str | None) -> None:
    """Delete finished tasks older than a duration (by when they reached the state).

    Without --older-than, applies the configured retention: done/ kept for queue.keep_done (and at
    most queue.keep_done_max tasks per queue), rotated logs for logs.keep. `--follow` workers do the
    same as they go; this is for cron, or by hand.

    \b
    Examples:
      assist queue purge                                 # the configured retention
      assist queue purge --state failed --older-than 30d
    """
    from ..timeutil import parse_duration

    config = load_config()
    b = backend(config)
    if older_than is None:
        from ..retention import apply

        counts = apply(config, b, _queues(b, queue_name))
        click.echo(f"retention: removed {counts['done_removed']} finished task(s) and "
                   f"{counts['logs_removed']} old log file(s)")
        return
    try:
        seconds = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    removed = sum(b.queue(n, create=False).purge(state, seconds) for n in _queues(b, queue_name))
    click.echo(f"purged {removed} {state} task(s) older than {older_than}")


@queue.command()
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Only this queue.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(queue_name: str | None, as_json: bool) -> None:
    """Depth per state and queue, age of the oldest ready task, and recent throughput.

    \b
    Example:
      assist queue stats
    """
    from ..timeutil import human_age

    b = backend(load_config())
    data = [b.queue(n, create=False).stats() for n in _queues(b, queue_name)]
    if as_json:
        print_json(data)
        return
    if not data:
        click.echo("no queues yet")
        return
    rows = []
    for s in data:
        d = s["depth"]
        oldest = s["oldest_ready_age_s"]
        rows.append([s["queue"], s["ready"], s["delayed"], d["cur"], d["hold"], d["done"], d["failed"],
                     d["cancelled"], human_age(oldest) if oldest is not None else "-",
                     s["done_last_1m"], s["done_last_15m"]])
    print_table(["queue", "ready", "delayed", "cur", "hold", "done", "failed", "cancelled", "oldest",
                 "done/1m", "done/15m"], rows)
    from ..monitor import by_host, workers

    hosts = by_host(workers(b))
    click.echo("workers: " + (", ".join(f"{host} {n}" for host, n in hosts.items()) or "none running")
               + ("  (assist queue workers)" if hosts else ""))


@queue.command("workers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def workers_(as_json: bool) -> None:
    """The workers alive now, on every host: each one's host, pid, stage, queue and command line. A worker
    says it is alive while it runs (every third of queue.lease, at most 10 s); with a Redis queue, the
    workers of every machine show.

    \b
    Example:
      assist queue workers
    """
    from ..monitor import workers
    from ..timeutil import human_age, now_ms

    found = workers(backend(load_config()))
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo("no workers running")
        return
    rows = [[w["host"], w["pid"], w.get("stage"), w.get("queue"), f"{human_age((now_ms() - w['seen']) / 1000)} ago",
             w.get("command")] for w in found]
    print_table(["host", "pid", "stage", "queue", "seen", "command"], rows)


@queue.command()
@click.option("--queue", "-q", "queue_name", default=None, callback=checked_queue, help="Only this queue.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reap(queue_name: str | None, as_json: bool) -> None:
    """Requeue tasks whose lease expired or whose worker died; clear stale temporary files; apply the
    retention of done/ (queue.keep_done). Workers do this by themselves; this is for cron or by hand.

    \b
    Example:
      assist queue reap
    """
    b = backend(load_config())
    result = {n: b.queue(n, create=False).reap() for n in _queues(b, queue_name)}
    if as_json:
        print_json(result)
        return
    for name, counts in result.items():
        click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
