"""The user's calendar as assist knows it: events read from ICS files and CalDAV calendars, every
occurrence of a recurring event expanded (recurring-ical-events), times kept with their offset (an
event in another zone stays at its instant; a floating time is read in the home's zone, [calendar]
timezone or the machine's), and one snapshot per source in `state/calendar/`, replaced whole on each
read (an event deleted at its source is gone from it). The planner's context reads it (`assist ask`,
`assist ingest tick --name calendar.week`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .fileutil import write_atomic

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .config import Config

FOLDER = "state/calendar"
BEFORE = timedelta(days=7)
AFTER = timedelta(days=120)
TEXT_LIMIT = 500
# A calendar from outside (an invitation, a shared calendar) can hold a rule repeating every second: its
# expansion would be millions of occurrences, or hours of counting them. An event with more occurrences
# than this in the span read (a daily one over five years has 1,826), or whose rule takes more steps than
# this to count from its first one (a daily one since the year 1500, an hourly one for twenty years), is
# left out and named.
MAX_OCCURRENCES = 2000
MAX_RULE_STEPS = 200_000
# A rule no date matches ("daily, on the 31st of February") is looked for until the year 9999: asked
# instead from thirty years before it, from a start with the same pattern (_matches_no_date)
CYCLE_DAYS = 146_097  # 400 Gregorian years
STEP_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86_400, "WEEKLY": 604_800}
PROBE_FROM = datetime(9968, 1, 1)
# A calendar's own time zone (VTIMEZONE, for a TZID the tz database does not know) changes its offset by
# rules that dateutil counts from their start for every time it converts: a zone changing every second
# since 1970 would hang a read for hours (found by fuzzing). Real zones change once or twice a year; one
# changing more often than monthly, or more than ZONE_MAX_CHANGES times before ZONE_PROBE_UNTIL, is not
# used: the events in it are left out and named.
ZONE_PROBE_UNTIL = datetime(2200, 1, 1)
ZONE_MAX_CHANGES = 2400  # monthly for two hundred years
NEGATIVE_COUNT = re.compile(r";?COUNT=-\d+")  # dropped, as recurring-ical-events does


def zone(config: Config) -> tzinfo:
    """[calendar] timezone (an IANA name), else this machine's (machine_zone)."""
    name = config.section("calendar").get("timezone")
    if name:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            from .errors import ConfigError

            raise ConfigError([f"calendar.timezone: no time zone named {name!r} (e.g. Europe/Berlin)"]) from None
    return machine_zone()


def machine_zone() -> tzinfo:
    """This machine's time zone by its IANA name, summer time included: $TZ ("Europe/Berlin", or a file
    as ":/usr/share/zoneinfo/Europe/Berlin"), else the zone /etc/localtime is (a link into a zoneinfo
    folder, or /etc/timezone's name beside it). Only when none names one, the offset it has now: the
    offset of December is not that of April, so an event in summer would be told an hour off."""
    import os
    from zoneinfo import ZoneInfo

    def named(text: str) -> ZoneInfo | None:
        text = text.strip().lstrip(":")
        text = text.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in text else text
        try:
            return ZoneInfo(text) if text and not text.startswith("/") else None
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            return None

    def debian_name() -> str:
        try:
            with open("/etc/timezone") as named_in:
                return named_in.read()
        except OSError:
            return ""

    tz = os.environ.get("TZ")
    for candidate in [tz] if tz is not None else [os.path.realpath("/etc/localtime"), debian_name()]:
        found = named(candidate)
        if found is not None:
            return found
    return datetime.now().astimezone().tzinfo or UTC


def _instant(value: Any, tz: tzinfo) -> tuple[str, bool]:
    """(ISO text, all day) of a DTSTART/DTEND value."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return aware.isoformat(), False
    if isinstance(value, date):
        return value.isoformat(), True
    raise ValueError(f"not a time: {value!r}")


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return " ".join(str(value).split())[:TEXT_LIMIT] if value is not None else ""


def normalise(component: Any, tz: tzinfo) -> dict[str, Any] | None:
    """One occurrence as {"uid", "start", "end", "all_day", "summary", "location", "description"}."""
    if component.get("dtstart") is None:
        return None
    start, all_day = _instant(component.decoded("dtstart"), tz)
    end = None
    if component.get("dtend") is not None:
        end, _ = _instant(component.decoded("dtend"), tz)
    elif component.get("duration") is not None:
        first = component.decoded("dtstart")
        end, _ = _instant(first + component.decoded("duration"), tz)
    event = {"uid": _text(component, "uid") or hashlib.sha256(start.encode()).hexdigest()[:16],
             "start": start, "end": end, "all_day": all_day, "summary": _text(component, "summary") or "(no title)",
             "location": _text(component, "location"), "description": _text(component, "description")}
    return {k: v for k, v in event.items() if v not in ("", None)}


def _naive(value: date, tz: tzinfo) -> datetime:
    """A DTSTART or a span's end as a datetime without zone, in tz: enough to count a rule's steps."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time())
    return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo is not None else value


def rule_problem(component: Any, tz: tzinfo, start: datetime, end: datetime) -> tuple[str, str] | None:
    """What to say of an event's rules, else None: ("event_left_out", why) for more than MAX_OCCURRENCES
    between start and end, or more than MAX_RULE_STEPS steps to tell (counted lazily, so a rule every
    second costs no more than that); ("event_read_once", why) for rules that match no date
    (_matches_no_date), which are taken off the event (its start stays, as RFC 5545 has it). ValueError
    for a rule that cannot be read."""
    from dateutil.rrule import rrulestr

    rules = component.get("rrule")
    if rules is None or component.get("dtstart") is None:
        return None
    first, low, high = (_naive(v, tz) for v in (component.decoded("dtstart"), start, end))
    steps = count = 0
    kept, never = [], []
    for rule in rules if isinstance(rules, list) else [rules]:
        text = NEGATIVE_COUNT.sub("", rule.to_ical().decode())
        try:  # zones dropped, UNTIL's too: counting needs no zone, and so no rule fails on a zone
            dates = rrulestr(text, dtstart=first, ignoretz=True)
            interval = int((rule.get("INTERVAL") or [1])[0])
            if interval < 1:  # RFC 5545: a positive integer (0 divided the probe's period: found by fuzzing)
                raise ValueError(f"INTERVAL={interval}")
            if _matches_no_date(dates, str(rule["FREQ"][0]).upper(), interval, first):
                never.append(text[:100])
                continue
        except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:  # nor could the library
            raise ValueError(f"RRULE {text[:100]!r}: {exc}") from None
        kept.append(rule)
        for when in dates:
            steps += 1
            if when >= high:
                break
            count += when >= low
            if count > MAX_OCCURRENCES or steps > MAX_RULE_STEPS:
                return "event_left_out", (f"repeats more than {MAX_OCCURRENCES:,} times in the span read, or too "
                                          "often to count")
    if not never:
        return None
    component.pop("RRULE")
    for rule in kept:
        component.add("RRULE", rule)
    return "event_read_once", f"its rule ({'; '.join(never)}) matches no date: read at its start only"


def _matches_no_date(rule: Any, freq: str, interval: int, first: datetime) -> bool:
    """Whether a rule matches no date ("daily, on the 31st of February"): dateutil looks for one until the
    year 9999, 10-20 s for a daily rule, and the expansion would too. Asked from a start with the same
    pattern as the event's own, moved by whole periods of the rule's step and of the Gregorian 400 years
    (after which dates and weekdays repeat), so it looks thirty years at most."""
    if freq in STEP_SECONDS:
        period = math.lcm(STEP_SECONDS[freq] * interval, CYCLE_DAYS * 86_400)
        moved = first + timedelta(seconds=period * max(0, int((PROBE_FROM - first).total_seconds()) // period))
    else:  # YEARLY and MONTHLY: their periods in whole years
        years = math.lcm(interval, 400) if freq == "YEARLY" else math.lcm(interval, 4800) // 12
        moved = first.replace(year=first.year + years * max(0, (PROBE_FROM.year - first.year) // years))
    return next(iter(rule.replace(dtstart=moved, count=None, until=None)), None) is None


def check(component: Any, tz: tzinfo, start: datetime, end: datetime) -> tuple[str, str] | None:
    """("event_left_out", why) for an event left out of the calendar read (its times cannot be read, or
    it repeats too often), ("event_read_once", why) for one read without its rules (rule_problem), else
    None: one bad event in a shared calendar does not cost the others."""
    try:
        for name in ("dtstart", "dtend", "duration", "recurrence-id", "rdate", "exdate"):
            values = component.get(name)
            for value in values if isinstance(values, list) else [] if values is None else [values]:
                for one in getattr(value, "dts", [value]):  # RDATE and EXDATE hold lists
                    # a broken value raises (icalendar's BrokenCalendarProperty is a ValueError)
                    costly = zone_problem(getattr(one.dt, "tzinfo", None))
                    if costly is not None:
                        return "event_left_out", costly
        return rule_problem(component, tz, start, end)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return "event_left_out", "unreadable: " + _why(exc)


def zone_problem(zone: tzinfo | None) -> str | None:
    """Why a time zone the calendar defined itself is not used (ZONE_MAX_CHANGES), else None; the tz
    database's zones are always used."""
    rules = getattr(zone, "_comps", None)  # dateutil's zone made from a VTIMEZONE
    return _costly_zone(zone) if isinstance(rules, list) else None


@lru_cache(maxsize=64)
def _costly_zone(zone: Any) -> str | None:
    from dateutil.rrule import MONTHLY, YEARLY, rrule

    why = f"its time zone {str(getattr(zone, '_tzid', ''))[:60]!r} changes its offset more often than monthly"
    for part in zone._comps:
        found = part.rrule
        for rule in getattr(found, "_rrule", []) if found is not None else []:  # an rruleset: its RRULEs
            if not isinstance(rule, rrule) or rule._freq not in (YEARLY, MONTHLY):
                return why
            for changes, when in enumerate(rule, 1):
                if when >= ZONE_PROBE_UNTIL:
                    break
                if changes > ZONE_MAX_CHANGES:
                    return why
    return None


def expand(ics: bytes, tz: tzinfo, start: datetime, end: datetime) -> tuple[list[dict[str, Any]],
                                                                           list[tuple[str, str, str]]]:
    """Every occurrence between start and end of the events of an iCalendar text, and (UID, what, why)
    of each event left out or read once (check)."""
    import icalendar
    from icalendar import Calendar

    # icalendar keeps the zones calendars define themselves (VTIMEZONE, for a TZID the tz database does not
    # know) for the whole process, by TZID, the first definition read winning: an invitation read before
    # the person's calendar in one CalDAV read moved their events to its own offsets. Each calendar its own
    if hasattr(icalendar, "use_zoneinfo"):
        icalendar.use_zoneinfo()
    try:
        calendar = Calendar.from_ical(ics)
    except Exception as exc:  # icalendar is lenient; what still escapes it (fuzzed: AttributeError) is the file's
        raise ValueError(_why(exc)) from None
    found = {str(c.get("uid", "")): said for c in calendar.walk("VEVENT")
             if (said := check(c, tz, start, end)) is not None}
    dropped = {uid for uid, (what, _) in found.items() if what == "event_left_out"}
    if dropped:
        calendar.subcomponents = [c for c in calendar.subcomponents
                                  if not (c.name == "VEVENT" and str(c.get("uid", "")) in dropped)]
    try:
        events = _occurrences(calendar, tz, start, end)
    except Exception:  # one event (or its zone) the libraries cannot expand: each UID alone, those left out
        events = []
        for uid, alone in _by_uid(calendar).items():
            try:
                events += _occurrences(alone, tz, start, end)
            except Exception as exc:
                found[uid] = ("event_left_out", "unreadable: " + _why(exc))
    events.sort(key=lambda e: (_sort_key(e["start"], tz), e["uid"]))
    return events, sorted((uid, what, why) for uid, (what, why) in found.items())


def _occurrences(calendar: Any, tz: tzinfo, start: datetime, end: datetime) -> list[dict[str, Any]]:
    import recurring_ical_events

    found = (normalise(c, tz) for c in recurring_ical_events.of(calendar).between(start, end))
    return [e for e in found if e is not None]


def _by_uid(calendar: Any) -> dict[str, Any]:
    """A calendar for each UID: its events (a rule's exceptions share its UID) and every time zone."""
    from icalendar import Calendar

    zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    out: dict[str, Any] = {}
    for component in calendar.walk("VEVENT"):
        uid = str(component.get("uid", ""))
        if uid not in out:
            out[uid] = Calendar()
            out[uid].subcomponents = list(zones)
        out[uid].subcomponents.append(component)
    return out


def _why(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def window(tz: tzinfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    moment = (now or datetime.now(tz)).astimezone(tz)
    return moment - BEFORE, moment + AFTER


def moment(text: str, tz: tzinfo) -> datetime:
    """An ISO date (its midnight) or date and time, in tz when it names no offset."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _sort_key(text: str, tz: tzinfo) -> datetime:
    if "T" in text:
        return datetime.fromisoformat(text)
    return datetime.combine(date.fromisoformat(text), time(), tz)


def occurrence_key(event: dict[str, Any]) -> str:
    return f"{event['uid']}@{event['start']}"


@contextmanager
def _snapshot(config: Config, source: str) -> Iterator[Path]:
    """The snapshot file of one source, held under its lock."""
    from filelock import FileLock

    path = config.home / FOLDER / (hashlib.sha256(source.encode()).hexdigest()[:16] + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        yield path


def _write(path: Path, source: str, events: list[dict[str, Any]], read: list[str] | None) -> None:
    kept = {"source": source, "events": events, **({"read": read} if read else {})}
    write_atomic(path, json.dumps(kept, ensure_ascii=False).encode())


def save(config: Config, source: str, events: list[dict[str, Any]], read: tuple[datetime, datetime]) -> None:
    """Replace the snapshot of one source (an ICS file, a CalDAV calendar), read from read[0] to read[1]."""
    with _snapshot(config, source) as path:
        _write(path, source, events, [read[0].isoformat(), read[1].isoformat()])


def add(config: Config, source: str, event: dict[str, Any]) -> None:
    """An event just written to a source (calendar.add), in that source's snapshot at once: the next
    question sees it before the source is read again (which replaces the snapshot whole)."""
    with _snapshot(config, source) as path:
        try:
            snapshot = json.loads(path.read_text())
        except (OSError, ValueError):
            snapshot = {}
        events = snapshot.get("events", [])
        _write(path, source, [e for e in events if occurrence_key(e) != occurrence_key(event)] + [event],
               snapshot.get("read"))


def read_any(config: Config) -> bool:
    """Whether a calendar has been read here (`assist ingest ics`/`caldav`, or an event added)."""
    return any((config.home / FOLDER).glob("*.json"))


def read_span(config: Config) -> tuple[datetime, datetime] | None:
    """The time every calendar read here was read for (from the latest start to the earliest end): outside it
    some calendar's events are not known. None when no snapshot says (those written before it was kept)."""
    spans = []
    for path in (config.home / FOLDER).glob("*.json"):
        try:
            since, until = json.loads(path.read_text())["read"]
            spans.append((datetime.fromisoformat(since), datetime.fromisoformat(until)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return (max(s for s, _ in spans), min(u for _, u in spans)) if spans else None


def between(config: Config, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The events of every source that overlap [start, end), in time order."""
    tz = zone(config)
    out = []
    for path in sorted((config.home / FOLDER).glob("*.json")):
        try:
            snapshot = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for event in snapshot.get("events", []):
            begins = _sort_key(event["start"], tz)
            ends = _sort_key(event["end"], tz) if event.get("end") else begins + timedelta(minutes=1)
            if begins < end and ends > start:
                out.append({**event, "source": snapshot.get("source", "")})
    return sorted(out, key=lambda e: (_sort_key(e["start"], tz), e["summary"]))


def week_of(moment: datetime) -> tuple[datetime, datetime]:
    """Monday 00:00 of moment's week, and the Monday after, in moment's zone."""
    monday = (moment - timedelta(days=moment.weekday())).date()
    start = datetime.combine(monday, time(), moment.tzinfo)
    return start, start + timedelta(days=7)


def describe(event: dict[str, Any], tz: tzinfo) -> str:
    """One line a person reads: "Tue 2 Dec 09:00-10:00 Dentist (Main St 4)", "Sat 5 Dec (all day) Mum's
    birthday" (a model read "Sat 5 Dec Mum's birthday" as a party at 5 pm), "Mon 7 Dec-Fri 11 Dec (all day)
    Holiday", "Fri 11 Dec 22:00-Sat 12 Dec 02:00 Party"."""
    begins = _sort_key(event["start"], tz).astimezone(tz)
    ends = _sort_key(event["end"], tz).astimezone(tz) if event.get("end") else None
    day = "%a %-d %b"
    if event.get("all_day"):  # its end is the day after its last
        last = ends - timedelta(days=1) if ends is not None else begins
        when = begins.strftime(day) + (last.strftime(f"-{day}") if last.date() > begins.date() else "") + " (all day)"
    else:
        when = begins.strftime(f"{day} %H:%M")
        if ends is not None:  # "Fri 11 Dec 22:00-Sat 12 Dec 02:00" over midnight
            when += ends.strftime(f"-{day} %H:%M" if ends.date() > begins.date() else "-%H:%M")
    where = f" ({event['location']})" if event.get("location") else ""
    return f"{when} {event['summary']}{where}"


def caldav_account(config: Config, url: str | None, user: str | None) -> tuple[str, str, str]:
    """(url, user, password) given, else [actions.calendar] caldav / username / token."""
    from .auth.secrets import section_secret

    section = config.action_section("calendar")
    url = url or section.get("caldav")
    if not url:
        raise UsageError("no CalDAV server: give its URL, or set [actions.calendar] caldav")
    return str(url), user or section.get("username", ""), section_secret(section, config.home) or ""


def caldav_client(config: Config, url: str, user: str, password: str, cafile: str | None = None) -> Any:
    """A client of the CalDAV server at url; its certificate checked against `cafile` (else [actions.calendar]
    cafile, else the system's trust store)."""
    import caldav

    from .net import require_local

    require_local(url, config, "caldav")
    cafile = cafile or config.action_section("calendar").get("cafile")
    client: Any = caldav.DAVClient  # typed loosely upstream
    return client(url=url, username=user or None, password=password if user else None, timeout=30,
                  ssl_verify_cert=str(config.resolve(cafile)) if cafile else True)


def unreachable(exc: BaseException) -> str:
    """Why a CalDAV server could not be reached, from requests' words: "HTTPConnectionPool(...): Max
    retries exceeded (... <urllib3... object at 0x...>: Failed to establish a new connection: [Errno 111]
    Connection refused)" is the errno's reason, and a certificate refused says how to trust it."""
    from .net import untrusted

    text = str(exc)
    refused_cert = re.search(r"certificate verify failed: ([^'\"()]+?)\s*(?:\(_ssl|['\"()]|$)", text)
    if refused_cert:
        return untrusted(refused_cert[1], "--cafile FILE (cafile in [actions.calendar])")
    refused = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    return f"cannot connect ({refused[0]})" if refused else text.splitlines()[0][:200]
