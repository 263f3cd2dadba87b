"""`assist ingest ics FILE` and `assist ingest caldav [URL]`: calendar events as `calendar.event` tasks,
each occurrence once across runs, and the calendar snapshot the planner reads (agenda.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import agenda
from ..errors import Unavailable, UsageError
from .events import Sink, State, accepted_only, event, safe_name

if TYPE_CHECKING:
    from ..config import Config


def _emit(sink: Sink, config: Config, source: str, events: list[dict[str, Any]],
          said: list[tuple[str, str, str]], read: tuple[datetime, datetime]) -> int:
    """Send the occurrences not sent before; the state forgets those that left the window. The events
    left out or read once (agenda.check) are named on stderr and in the log."""
    from .. import log

    for uid, what, why in said:
        log.for_component(config, "ingest", echo=True).warning(what, source=source, uid=uid[:200], why=why)
    agenda.save(config, source, events, read)
    state = State(config.home, f"calendar-{safe_name(source)}")
    seen = set(state.load().get("seen", []))
    keyed = [(agenda.occurrence_key(e), e) for e in events]
    new = [(key, e) for key, e in keyed if key not in seen]
    with accepted_only(state, sink):
        sink.send([event("calendar.event", source, e, key=f"{source}#{key}") for key, e in new])
        state.save({"seen": sorted(seen.intersection(key for key, _ in keyed) | {key for key, _ in new})})
    return len(new)


def span(config: Config, since: str | None, until: str | None) -> tuple[datetime, datetime]:
    """The dates to read events between: --since/--until (ISO dates or times), else a week ago to four
    months ahead."""
    tz = agenda.zone(config)
    start, end = agenda.window(tz)
    try:
        if since:
            start = agenda.moment(since, tz)
        if until:
            end = agenda.moment(until, tz)
    except ValueError as exc:
        raise UsageError(f"--since/--until: {exc}") from None
    if end <= start:
        raise UsageError("--until must come after --since")
    return start, end


def ingest_ics(path: Path, sink: Sink, config: Config, since: str | None = None, until: str | None = None) -> int:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    tz = agenda.zone(config)
    start, end = span(config, since, until)
    try:
        events, said = agenda.expand(text, tz, start, end)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not an iCalendar file we can read ({str(exc).splitlines()[0][:200]})") from None
    return _emit(sink, config, f"ics:{path.resolve()}", events, said, (start, end))


def ingest_caldav(sink: Sink, config: Config, url: str | None = None, user: str | None = None,
                  since: str | None = None, until: str | None = None, cafile: str | None = None) -> int:
    from ..printable import without_password

    url, user, password = agenda.caldav_account(config, url, user)
    shown = without_password(url)
    tz = agenda.zone(config)
    start, end = span(config, since, until)
    count = 0
    try:
        client = agenda.caldav_client(config, url, user, password, cafile)
        for calendar in client.principal().calendars():
            events: list[dict[str, Any]] = []
            said: list[tuple[str, str, str]] = []
            for item in calendar.search(start=start, end=end, event=True):  # expanded here, as a file's
                try:
                    some, of_these = agenda.expand(item.data.encode(), tz, start, end)
                except (ValueError, KeyError, TypeError) as exc:  # one object the server holds, not the rest
                    some, of_these = [], [(str(item.url), "event_left_out",
                                           "unreadable: " + str(exc).splitlines()[0][:200])]
                events += some
                said += of_these
            events.sort(key=lambda e: (e["start"], e["uid"]))
            source = f"caldav:{without_password(str(calendar.url))}"
            count += _emit(sink, config, source, events, said, (start, end))
    except (OSError, ValueError) as exc:
        raise Unavailable(f"caldav {shown}: {agenda.unreachable(exc)}") from None
    except Exception as exc:  # caldav's own errors (AuthorizationError, NotFoundError...) derive from Exception
        if type(exc).__module__.startswith("caldav"):
            raise Unavailable(f"caldav {shown}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
        raise
    return count


def week_task(config: Config, at: str | None = None) -> dict[str, Any]:
    """The calendar.week task for the week holding `at` (default now): its events from every calendar
    read so far, one task per week (its id comes from the week)."""
    if not agenda.read_any(config):  # else an empty week, and the summary says you are free
        raise UsageError("calendar.week: no calendar has been read yet: `assist ingest ics FILE` or "
                         "`assist ingest caldav URL` before the tick (docs/ask.md)")
    tz = agenda.zone(config)
    try:
        moment = agenda.moment(at, tz) if at else datetime.now(tz)
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None
    start, end = agenda.week_of(moment)
    events = [{"when": agenda.describe(e, tz), "summary": e["summary"], **({"location": e["location"]}
                                                                          if e.get("location") else {})}
              for e in agenda.between(config, start, end)]
    data = {"week_start": start.date().isoformat(), "events": events}
    return event("calendar.week", "timer:calendar.week", data, key=f"calendar.week:{data['week_start']}")
