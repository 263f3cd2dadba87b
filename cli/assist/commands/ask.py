"""`assist ask TEXT`: a typed request, answered here and now."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import load_config, print_json


@click.command()
@click.argument("words", nargs=-1)
@click.option("--now", "now_text", metavar="TIME", default=None,
              help="Answer as if it were this moment (ISO, e.g. 2026-12-02T10:00; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the task as it ended, as JSON.")
def ask(words: tuple[str, ...], now_text: str | None, as_json: bool) -> None:
    """Ask in your own words (or on stdin): what is on your calendar, what your notes say, which mails
    match; add an event, make a note, draft an email, reply to a mail, forward one. The request is routed
    among the request routes of assist.toml; facts (events, mails) come from your data and are printed as
    they are, and the model's answer is streamed as it is written. Adding an event, drafting an email, a
    reply or a forward waits for your approval (`assist queue approve ID`, then `assist act --from ask
    --once`).

    \b
    Examples:
      assist ask what is on my calendar this week
      assist ask "add lunch with Ana on Friday at 1pm"
      assist ask did ana write to me since monday
      assist ask "forward sam's mail about the contract to bob@example.org"
      assist ask "reply to dana that we are on it"
      echo "remember to call the plumber" | assist ask
    """
    from .. import agenda
    from ..asking import answer_notices
    from ..asking import ask as answer
    from ..extras import require
    from ..printable import printable

    text = " ".join(words).strip() or (sys.stdin.read().strip() if not sys.stdin.isatty() else "")
    if not text:
        raise click.UsageError("ask something: assist ask what is on my calendar this week")
    for module in ("onnxruntime", "tokenizers", "numpy", "sklearn"):
        require(module, "ask")
    config = load_config()
    now = None
    if now_text:
        try:
            now = agenda.moment(now_text, agenda.zone(config))
        except ValueError as exc:
            raise click.UsageError(f"--now: {exc}") from None
    streamed: list[str] = []

    def on_piece(piece: str) -> None:
        streamed.append(piece)
        if not as_json:
            click.echo(printable(piece, keep_lines=True), nl=False)  # model output: no escape reaches the terminal

    from ..errors import TemporaryError, Unavailable

    try:
        task = answer(config, text, now, on_piece, None if as_json else _facts)
    except TemporaryError as exc:  # no model answered: say which and how to get one (exit 69)
        raise Unavailable(f"no answer: {exc}") from None
    if as_json:
        print_json(task)
        return
    if streamed:
        click.echo("")
    for notice in answer_notices(task):  # what the model's words say that nothing it was given does
        click.echo(printable(notice))
    if task["data"].get("written_to_the_assistant"):  # the answer may say what an invitation or a mail told it
        click.echo(f"({'a mail' if 'found' in task['data'] else 'an event'} above writes to the assistant: "
                   "read it yourself)")
    for chunk in (task.get("prompt") or {}).get("context_left_out", []):  # a note of the memory not given
        click.echo(f"(left out, as it writes to the assistant: {printable(str(chunk.get('source')))})")
    _actions(task)


def _facts(task: dict[str, Any]) -> None:
    """What the answer rests on, printed before the model's words: the route, and the events or mails."""
    from ..printable import printable

    data, intent = task.get("data", {}), task.get("intent", {})
    click.echo(f"({intent.get('route')}: {intent.get('by')}, {intent.get('confidence', 0):.2f})", err=True)
    if "events" in data and data.get("answer"):  # "when is the holiday party": the answer is the event's line
        data = {key: value for key, value in data.items() if key != "events"}
    if intent.get("by") == "calendar:briefing":  # the day's events and the unread mail: all in its answer
        data = {key: value for key, value in data.items() if key not in ("found", "not_searched")}
    if "events" in data:
        click.echo(f"your events {data.get('window', '')}:" + ("" if data["events"] else " none"))
    if data.get("found") and "forward" in data:  # the mail a forward sends on
        total = data.get("found_total")
        click.echo("the mail to forward" + (f" (the newest of {total} found)" if total else "") + ":")
    elif data.get("found") and "reply" in data:  # the mail a reply answers
        click.echo("the mail to reply to:")
    elif data.get("found"):  # none found: the answer says what was searched for
        total = data.get("found_total")
        click.echo(f"{'unread ' if data.get('unread') else ''}mails found"
                   f"{' ' + printable(data['window']) if data.get('window') else ''}:"
                   + (f" {total}, the newest {len(data['found'])}" if total else ""))
    for line in data.get("events", data.get("found", [])):
        click.echo(f"  {printable(line)}")
    for why in data.get("not_searched", []):  # an account that could not be read: its mail is not above
        click.echo(f"  not searched: {printable(why)}")
    if data.get("elsewhere"):
        click.echo("what it names, at another time:")
        for line in data["elsewhere"]:
            click.echo(f"  {printable(line)}")
    if "event" in data:
        event = data["event"]
        all_day = "T" not in str(event["start"])  # a day's event: dates
        when = f"{event['start']} (all day)" if all_day else f"{event['start']} to {event['end']}"
        click.echo(f"event: {printable(event['summary'])}, {printable(when)}")
    if data.get("answer"):  # what could not be done, nothing found, what mails say: said without the model
        click.echo(printable(data["answer"], keep_lines=True))  # its lines are made of printable ones


def _actions(task: dict[str, Any]) -> None:
    from ..asking import ASK_QUEUE
    from ..printable import printable
    from ..queue.admin import awaiting

    parsed = (task.get("result") or {}).get("parsed")
    if isinstance(parsed, dict):
        for key, value in parsed.items():
            click.echo(f"{key}: {printable(str(value))}")
    planned = iter(awaiting(task))  # the waiting actions, in order, with what the person approving is told
    for action in task.get("actions", []):
        status = action.get("status")
        if status == "awaiting_approval":
            click.echo(f"waiting for your approval: {action['type']} {printable(str(action.get('args', {})))}")
            for notice in next(planned, {}).get("notices", []):  # where it really goes, what a draft added
                click.echo(f"  look: {printable(notice)}")
            click.echo(f"  assist queue approve {task['id']} && assist act --from {ASK_QUEUE} --once")
        else:
            click.echo(f"{action['type']}: {status} {printable(str(action.get('error') or ''))}".rstrip())
