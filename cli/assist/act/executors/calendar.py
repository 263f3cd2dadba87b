"""calendar.add: an event written to a CalDAV calendar ([actions.calendar] caldav) or an ICS file
([actions.calendar] file); the event's UID comes from the action key, so adding it again changes
nothing. Nor does adding an event the person put there themselves meanwhile (or asked for twice): one
with the same summary, case and spaces aside, starting at the same moment is found and named instead.
A start that is a date ("2026-12-04") is an event of the whole day (its end, when given, the day after
its last)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..registry import ActionContext, ActionError, executor
from ._io import one_at_a_time, write_atomic


@executor("calendar.add", {
    "required": ["summary", "start"],
    "properties": {"summary": {"type": "string", "minLength": 1, "maxLength": 500},
                   "start": {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]},
                   "end": {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]},
                   "location": {"type": "string", "maxLength": 500},
                   "description": {"type": "string", "maxLength": 100_000}},
}, repeatable=True)
def add(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    from icalendar import Calendar, Event

    section = ctx.section("calendar")
    if not section.get("file") and not section.get("caldav"):
        raise ActionError("calendar: no calendar is configured ([actions.calendar] caldav or file)")
    uid = f"{ctx.key}@assist.local"
    start, end = _moment(args["start"]), (_moment(args["end"]) if args.get("end") else None)
    if isinstance(start, datetime) != isinstance(end, datetime) and end is not None:
        raise ActionError("calendar: start and end must both be dates (a whole day) or both dates and times")
    if not isinstance(start, datetime) and end is None:
        end = start + timedelta(days=1)  # a day's event ends the day after (RFC 5545)
    if end is not None and end < start:  # both dates or both datetimes, as checked
        raise ActionError("calendar: the event ends before it starts")
    if isinstance(start, datetime):
        start = _in_a_named_zone(ctx, start)
        end = _in_a_named_zone(ctx, end) if isinstance(end, datetime) else None
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
    if section.get("caldav"):
        result = _to_caldav(section, event, uid, ctx)
        if result.get("already") or result.get("found"):
            return result
        return _remembered(ctx, f"caldav:{result['caldav']}", event, result)
    path = ctx.config.resolve(section["file"])
    with one_at_a_time(ctx, "calendar"):  # read, added to and written whole: two at once kept one
        if path.exists():
            try:
                cal = Calendar.from_ical(path.read_bytes())
            except ValueError:  # the parser's complaint quotes the file's bytes: not said
                raise ActionError(f"calendar: {path}: not an iCalendar file assist can read ([actions.calendar] "
                                  "file; it is left as it is)") from None
            if any(str(c.get("uid")) == uid for c in cal.walk("VEVENT")):
                return {"uid": uid, "already": True}
            same = next((c for c in cal.walk("VEVENT") if _same(c, event)), None)
            if same is not None:
                return _found(same)
            cal.add_component(event)
        else:
            cal = _calendar_of(event)
        write_atomic(path, cal.to_ical())
    return _remembered(ctx, f"ics:{path.resolve()}", event, {"uid": uid, "file": str(path)})


def _moment(text: str) -> date | datetime:
    """A date and time, or a date alone (an event of the whole day), as ISO 8601 writes them."""
    try:
        if "T" not in text and len(text.strip()) == 10:
            return date.fromisoformat(text.strip())
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # not quoted: a model wrote it, from a mail
        raise ActionError("calendar: start or end is not a date and time (ISO 8601: 2026-12-04T13:00, with an "
                          "offset or in [actions.calendar] timezone) nor a date (2026-12-04)") from None


def _remembered(ctx: ActionContext, source: str, event: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The added event in the calendar snapshot `assist ask` reads (agenda.py), as the next read of its
    source would put it; if that cannot be written the event is still added: the result says so."""
    from ... import agenda

    try:
        added = agenda.normalise(event, agenda.zone(ctx.config))
        if added is not None:
            agenda.add(ctx.config, source, added)
    except OSError as exc:
        return {**result, "warning": f"the event is not in the calendar assist reads until its next read "
                                     f"(assist ingest): {exc.strerror or exc}"}
    return result


def _same(found: Any, event: Any) -> bool:
    """Whether a calendar's event is this one: the same summary (case and spaces aside), starting at the
    same moment (both with a zone, or both floating)."""
    def words(component: Any) -> list[str]:
        return str(component.get("summary", "")).casefold().split()

    try:
        there, here = found.decoded("dtstart"), event.decoded("dtstart")
    except (KeyError, ValueError):
        return False
    if isinstance(there, datetime) != isinstance(here, datetime):  # a day's event and a timed one
        return False
    return ((not isinstance(there, datetime) or (there.tzinfo is None) == (here.tzinfo is None)) and there == here
            and words(found) == words(event))


def _found(same: Any) -> dict[str, Any]:
    return {"found": str(same.get("uid", ""))[:200],
            "not_added": "an event of that summary at that time is on the calendar already"}


def _calendar_of(event: Any) -> Any:
    """A VCALENDAR holding the one event."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", "-//assist//calendar.add//EN")
    cal.add("version", "2.0")
    cal.add_component(event)
    return cal


def _to_caldav(section: dict[str, Any], event: Any, uid: str, ctx: ActionContext) -> dict[str, Any]:
    from ...agenda import caldav_account, caldav_client, unreachable
    from ...errors import TemporaryError
    from ...printable import without_password

    url, user, password = caldav_account(ctx.config, None, None)
    shown = without_password(url)
    try:
        calendars = caldav_client(ctx.config, url, user, password).principal().calendars()
        wanted = section.get("calendar")
        chosen = next((c for c in calendars if not wanted or c.get_display_name() == wanted), None)
        if chosen is None:
            raise ActionError(f"calendar: no calendar named {wanted!r} on {shown}" if wanted else
                              f"calendar: {shown} has no calendar")
        try:
            chosen.event_by_uid(uid)
            return {"uid": uid, "already": True}
        except Exception as exc:  # caldav's NotFoundError: not there yet
            if type(exc).__name__ != "NotFoundError":
                raise
        start, day = event.decoded("dtstart"), timedelta(days=1)  # a day each side: a server may read a zone
        if not isinstance(start, datetime):  # a day's event: searched from its midnight
            start = datetime.combine(start, time(), UTC)
        nearby = chosen.search(start=start - day, end=start + day, event=True, expand=False)  # it does not know
        same = next((o.icalendar_component for o in nearby if _same(o.icalendar_component, event)), None)
        if same is not None:
            return _found(same)
        chosen.save_event(_calendar_of(event).to_ical().decode())
    except OSError as exc:
        raise TemporaryError(f"calendar: {shown}: {unreachable(exc)}") from None
    return {"uid": uid, "caldav": without_password(str(chosen.url))}


def _in_a_named_zone(ctx: ActionContext, moment: datetime) -> datetime:
    """The same instant in the home's named zone ([calendar] timezone, else the machine's named one),
    else in UTC: a bare offset ("+01:00") would be written as a zone no calendar knows."""
    from zoneinfo import ZoneInfo

    from ...agenda import zone

    if moment.tzinfo is None:
        return moment
    named = zone(ctx.config)
    return moment.astimezone(named if isinstance(named, ZoneInfo) else ZoneInfo("UTC"))
