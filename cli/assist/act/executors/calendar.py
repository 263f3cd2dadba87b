"""calendar.add: an event written to an ICS file (the icalendar package); the event's UID comes from the
action key, so adding it again changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..registry import ActionContext, ActionError, executor
from ._io import write_atomic


@executor("calendar.add", {
    "required": ["summary", "start"],
    "properties": {"summary": {"type": "string", "minLength": 1, "maxLength": 500},
                   "start": {"type": "string", "format": "date-time"},
                   "end": {"type": "string", "format": "date-time"},
                   "location": {"type": "string", "maxLength": 500},
                   "description": {"type": "string", "maxLength": 100_000}},
}, repeatable=True)
def add(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    from icalendar import Calendar, Event

    target = ctx.section("calendar").get("file")
    if not target:
        raise ActionError("calendar: no ICS file is configured ([actions.calendar] file)")
    path = ctx.config.resolve(target)
    uid = f"{ctx.key}@assist.local"
    try:
        start = datetime.fromisoformat(args["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(args["end"].replace("Z", "+00:00")) if args.get("end") else None
    except ValueError as exc:
        raise ActionError(f"calendar: bad time: {exc}") from None
    if end is not None and end < start:
        raise ActionError("calendar: the event ends before it starts")
    if path.exists():
        cal = Calendar.from_ical(path.read_bytes())
        if any(str(c.get("uid")) == uid for c in cal.walk("VEVENT")):
            return {"uid": uid, "already": True}
    else:
        cal = Calendar()
        cal.add("prodid", "-//assist//calendar.add//EN")
        cal.add("version", "2.0")
    event = Event()
    event.add("uid", uid)
    event.add("summary", args["summary"])
    event.add("dtstart", start)
    if end is not None:
        event.add("dtend", end)
    for field in ("location", "description"):
        if args.get(field):
            event.add(field, args[field])
    event.add("dtstamp", datetime.now().astimezone())
    cal.add_component(event)
    write_atomic(path, cal.to_ical())
    return {"uid": uid, "file": str(path)}
