"""The calendar as a source: an ICS file (recurrences expanded, zones kept, each occurrence once) and a
real CalDAV server (Radicale), the snapshot the planner reads, and the week's task from a timer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from conftest import jsonl, run

ICS = Path(__file__).parent / "fixtures" / "calendar" / "three-weeks.ics"
BERLIN = '\n[calendar]\ntimezone = "Europe/Berlin"\n'
WEEK_ONE = ["Team standup", "Dentist", "Lunch with Ana", "Call with the New York team", "Mum's birthday"]


def test_an_ics_file_gives_each_occurrence_once_in_its_zone(home):
    with open(home / "assist.toml", "a") as f:
        f.write(BERLIN)
    r = run(["ingest", "ics", str(ICS), "--since", "2026-11-23", "--until", "2027-01-01"])
    assert r.code == 0, r.err
    events = [orjson.loads(line) for line in r.out.splitlines()]
    assert len(events) == 15 and {e["type"] for e in events} == {"calendar.event"}
    by_summary = {}
    for e in events:
        by_summary.setdefault(e["data"]["summary"], []).append(e["data"])
    assert len(by_summary["Team standup"]) == 3  # a weekly rule, three times
    assert by_summary["Call with the New York team"][0]["start"] == "2026-12-04T10:00:00-05:00"
    assert by_summary["Yoga"][0]["start"] == "2026-12-09T18:00:00+01:00"  # floating: read in the home's zone
    assert by_summary["Mum's birthday"][0] == {**by_summary["Mum's birthday"][0], "all_day": True,
                                                "start": "2026-12-05"}
    again = run(["ingest", "ics", str(ICS), "--since", "2026-11-23", "--until", "2027-01-01"])
    assert again.code == 0 and again.out == "" and again.err.strip().endswith(": 0 event(s)")
    # the week's task, from the snapshot: this week's five events and no other, in the home's zone
    week = run(["ingest", "tick", "--name", "calendar.week", "--at", "2026-12-02T10:00"])
    assert week.code == 0, week.err
    [task] = [orjson.loads(line) for line in week.out.splitlines()]
    assert task["type"] == "calendar.week" and task["data"]["week_start"] == "2026-11-30"
    lines = [e["when"] for e in task["data"]["events"]]
    assert [next(s for s in WEEK_ONE if s in line) for line in lines] == WEEK_ONE
    assert "Fri 4 Dec 16:00-17:00 Call with the New York team" in lines


SUMMER = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//assist tests//summer//EN
BEGIN:VEVENT
UID:summer-dentist@example.org
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Berlin:20270405T090000
DTEND;TZID=Europe/Berlin:20270405T100000
SUMMARY:Dentist
END:VEVENT
BEGIN:VEVENT
UID:winter-standup@example.org
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Berlin:20270322T091500
DTEND;TZID=Europe/Berlin:20270322T093000
RRULE:FREQ=WEEKLY;COUNT=3
SUMMARY:Standup
END:VEVENT
END:VCALENDAR
"""


def test_the_machines_own_time_zone_is_kept_across_a_change_of_summer_time(home, tmp_path, monkeypatch):
    """A home with no [calendar] timezone reads times in this machine's zone. That was taken as the
    offset the machine had at that moment (+01:00 in a Berlin December), not its zone: an event at 09:00
    in the summer (+02:00) was told to the person, and to the model, as 08:00, and a weekly 09:15 standup
    as 09:15 in March and 08:15 from April. Now the zone is the machine's own (TZ, /etc/localtime), its
    summer time included."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    ics = tmp_path / "summer.ics"
    ics.write_text(SUMMER)
    r = run(["ingest", "ics", str(ics), "--since", "2027-03-15", "--until", "2027-04-30"])
    assert r.code == 0, r.err
    starts = sorted(orjson.loads(line)["data"]["start"] for line in r.out.splitlines())
    assert starts == ["2027-03-22T09:15:00+01:00", "2027-03-29T09:15:00+02:00", "2027-04-05T09:00:00+02:00",
                      "2027-04-05T09:15:00+02:00"]
    week = run(["ingest", "tick", "--name", "calendar.week", "--at", "2027-04-06T10:00"])
    assert week.code == 0, week.err
    [task] = [orjson.loads(line) for line in week.out.splitlines()]
    assert [e["when"] for e in task["data"]["events"]] == ["Mon 5 Apr 09:00-10:00 Dentist",
                                                          "Mon 5 Apr 09:15-09:30 Standup"]


def test_the_weeks_task_before_any_calendar_is_read_is_refused(home):
    # else an empty week, and the summary tells you that you are free
    r = run(["ingest", "tick", "--name", "calendar.week", "--at", "2026-12-02T10:00"])
    assert r.code == 2 and r.out == "" and "no calendar has been read" in r.err and "assist ingest ics" in r.err, r
    assert "Traceback" not in r.err


def test_a_bad_ics_file_is_one_clear_line(home, tmp_path):
    bad = tmp_path / "bad.ics"
    bad.write_text("BEGIN:VCALENDAR\nthis is not\n")
    r = run(["ingest", "ics", str(bad)])
    assert r.code == 2 and "bad.ics: not an iCalendar file" in r.err and "Traceback" not in r.err
    r = run(["ingest", "ics", str(tmp_path / "missing.ics")])
    assert r.code == 2 and "missing.ics" in r.err


def test_one_broken_event_is_left_out_and_the_others_are_read(home, tmp_path):
    """A shared calendar with one bad time or rule refused the whole file. Found by fuzzing agenda.expand
    since: an event with two DTSTART lines passed our check, then ended recurring-ical-events in an
    AttributeError, and a rule with INTERVAL=0 our own check in a ZeroDivisionError (`ingest ics` printed
    a traceback; `ingest caldav` stopped at that object, every calendar after it unread)."""
    mixed = tmp_path / "shared.ics"
    mixed.write_text("BEGIN:VCALENDAR\nVERSION:2.0\n"
                     "BEGIN:VEVENT\nUID:bad-start\nDTSTART:2026120\nSUMMARY:x\nEND:VEVENT\n"
                     "BEGIN:VEVENT\nUID:dentist\nDTSTART:20261203T100000Z\nDTEND:20261203T110000Z\n"
                     "SUMMARY:Dentist\nEND:VEVENT\n"
                     "BEGIN:VEVENT\nUID:bad-end\nDTSTART:20261203T100000Z\nDTEND:garbage\nSUMMARY:y\nEND:VEVENT\n"
                     "BEGIN:VEVENT\nUID:bad-rule\nDTSTART:20261203T100000Z\nRRULE:FREQ=SOMETIMES\nSUMMARY:z\n"
                     "END:VEVENT\n"
                     "BEGIN:VEVENT\nUID:bad-exdate\nDTSTART:20261203T100000Z\nRRULE:FREQ=DAILY\nEXDATE:soon\n"
                     "SUMMARY:w\nEND:VEVENT\n"
                     "BEGIN:VEVENT\nUID:twice\nDTSTART:20261203T080000Z\nDTSTART:20261204T080000Z\n"
                     "SUMMARY:v\nEND:VEVENT\n"
                     "BEGIN:VEVENT\nUID:never-moves\nDTSTART:20261203T080000Z\nRRULE:FREQ=DAILY;INTERVAL=0\n"
                     "SUMMARY:u\nEND:VEVENT\nEND:VCALENDAR\n")
    r = run(["ingest", "ics", str(mixed), "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    assert [orjson.loads(line)["data"]["summary"] for line in r.out.splitlines()] == ["Dentist"]
    for uid in ("bad-start", "bad-end", "bad-rule", "bad-exdate", "twice", "never-moves"):
        assert f"event_left_out source=ics:{mixed} uid={uid} why=unreadable" in r.err, (uid, r.err)


def test_a_file_the_calendar_parser_chokes_on_is_a_clear_error(home, tmp_path):
    """Found by fuzzing: a time zone with two TZID lines ended icalendar's parser in an AttributeError,
    printed as a traceback by `assist ingest ics`; now the usual one-line error (exit 2)."""
    zones = tmp_path / "zones.ics"
    zones.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\nTZID:Europe/Paris\n"
                     "BEGIN:STANDARD\nDTSTART:19701025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n"
                     "END:STANDARD\nEND:VTIMEZONE\nEND:VCALENDAR\n")
    r = run(["ingest", "ics", str(zones)])
    assert r.code == 2 and f"{zones}: not an iCalendar file we can read" in r.err and "Traceback" not in r.err, r.err


def test_a_caldav_server_gives_its_events_once(home, radicale):
    import caldav

    client = caldav.DAVClient(url=radicale, username="me", password="x")
    calendar = client.principal().make_calendar(name="work")
    at = lambda *when: dt.datetime(*when, tzinfo=dt.UTC)  # noqa: E731
    calendar.save_event(dtstart=at(2026, 12, 2, 9), dtend=at(2026, 12, 2, 10), summary="Dentist", uid="dentist@test")
    calendar.save_event(dtstart=at(2026, 12, 1, 8), dtend=at(2026, 12, 1, 8, 30), summary="Run", uid="run@test",
                        rrule={"FREQ": "DAILY", "COUNT": 4})
    r = run(["ingest", "caldav", radicale, "--user", "me", "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    events = [orjson.loads(line)["data"] for line in r.out.splitlines()]
    assert sorted(e["summary"] for e in events) == ["Dentist"] + ["Run"] * 4
    assert run(["ingest", "caldav", radicale, "--user", "me", "--since", "2026-11-30",
                "--until", "2026-12-07"]).out == ""
    down = run(["ingest", "caldav", "http://me:s3cret@127.0.0.1:9/", "--user", "me"])
    assert down.code == 69 and "caldav http://me:***@127.0.0.1:9/" in down.err and "Traceback" not in down.err
    assert "s3cret" not in down.err  # a password in the URL is never printed


def test_a_caldav_server_with_a_certificate_of_its_own_is_trusted_when_told(home, tmp_path):
    """Nextcloud or Radicale at home over HTTPS with a self-signed certificate: there was no way to trust
    it but the system's store, and the refusal was requests' retry pool ("HTTPSConnectionPool(...): Max
    retries exceeded ... SSLError(SSLCertVerificationError(1, ..."), cut at 200 characters. Now it says
    the certificate is not trusted and how to trust it: --cafile, or cafile in [actions.calendar] (which
    calendar.add uses too)."""
    import contextlib
    import socket
    import subprocess
    import sys

    import caldav

    from assist.demo.servers import self_signed
    from conftest import free_port, wait_for

    self_signed(tmp_path)
    port = free_port()
    (tmp_path / "radicale.conf").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\nssl = True\ncertificate = {tmp_path / 'cert.pem'}\n"
        f"key = {tmp_path / 'key.pem'}\n[auth]\ntype = none\n[storage]\nfilesystem_folder = {tmp_path / 'col'}\n")
    proc = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(tmp_path / "radicale.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def listening() -> bool:
        assert proc.poll() is None, "radicale exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        return False

    try:
        wait_for(listening, timeout=120, what="radicale over TLS to listen")
        url = f"https://127.0.0.1:{port}/"
        client = caldav.DAVClient(url=url, username="me", password="x", ssl_verify_cert=str(tmp_path / "cert.pem"))
        client.principal().make_calendar(name="home").save_event(
            dtstart=dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), dtend=dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC),
            summary="Plumber", uid="plumber@test")
        span = ["--since", "2026-11-30", "--until", "2026-12-07"]
        r = run(["ingest", "caldav", url, "--user", "me", *span])
        assert r.code == 69 and "certificate is not trusted (self-signed certificate)" in r.err, r.err
        assert "--cafile" in r.err and "HTTPSConnectionPool" not in r.err and len(r.err.strip().splitlines()) == 1
        r = run(["ingest", "caldav", url, "--user", "me", "--cafile", str(tmp_path / "cert.pem"), *span])
        assert r.code == 0 and [orjson.loads(line)["data"]["summary"] for line in r.out.splitlines()] == ["Plumber"]
        (home / "assist.toml").write_text(ADDING.format(
            where=f'caldav = "{url}"\nusername = "me"\ncafile = "{tmp_path / "cert.pem"}"'))
        added = run(["act"], jsonl({"type": "email.received", "intent": {"route": "cal"}, "data": {"subject": "x"},
                                    "result": {"parsed": {"actions": [{"type": "calendar.add", "args": {
                                        "summary": "Boiler check", "start": "2026-12-03T10:00:00+00:00"}}]}}}))
        assert added.code == 0 and added.lines[0]["actions"][0]["status"] == "done", added.err
        r = run(["ingest", "caldav", *span])  # the server and certificate of [actions.calendar]
        assert r.code == 0 and sorted(orjson.loads(line)["data"]["summary"] for line in r.out.splitlines()) == \
            ["Boiler check"], r.err
    finally:
        proc.terminate()
        proc.wait(timeout=10)


FLOODS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//hostile//EN
BEGIN:VEVENT
UID:every-minute@flood
DTSTART:20261201T000000Z
DTEND:20261201T000030Z
RRULE:FREQ=MINUTELY
SUMMARY:Flood
END:VEVENT
BEGIN:VEVENT
UID:every-second-for-35-years@flood
DTSTART:19900101T000000Z
RRULE:FREQ=SECONDLY;UNTIL=20250101T000000Z
SUMMARY:Old flood
END:VEVENT
BEGIN:VEVENT
UID:february-31st@never
DTSTART:20261201T090000Z
RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=31
SUMMARY:Never
END:VEVENT
BEGIN:VEVENT
UID:mondays-every-7-days-from-a-tuesday@never
DTSTART:20261201T090000Z
RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO
SUMMARY:Never either
END:VEVENT
BEGIN:VEVENT
UID:leap-day@test
DTSTART;VALUE=DATE:20240229
RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29
SUMMARY:Leap day birthday
END:VEVENT
BEGIN:VEVENT
UID:dentist@test
DTSTART:20261203T100000Z
DTEND:20261203T110000Z
SUMMARY:Dentist
END:VEVENT
BEGIN:VEVENT
UID:walk@test
DTSTART:20150101T070000Z
DTEND:20150101T073000Z
RRULE:FREQ=DAILY
SUMMARY:Walk
END:VEVENT
END:VCALENDAR
"""


def test_an_event_repeating_every_minute_or_second_is_left_out_not_expanded(home, tmp_path):
    # an invitation or a shared calendar is not the person's own: a rule repeating every second would
    # make millions of occurrences (tasks, snapshot, memory) or a machine busy for hours counting them,
    # and a rule no date matches is looked for until the year 9999 (10-20 s an event)
    floods = tmp_path / "floods.ics"
    floods.write_text(FLOODS)
    r = run(["ingest", "ics", str(floods), "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    events = [orjson.loads(line)["data"] for line in r.out.splitlines()]
    assert sorted(e["summary"] for e in events) == ["Dentist", "Never", "Never either"] + ["Walk"] * 7  # a daily
    # walk since 2015 stays; an event whose rule matches no date is its start only, as RFC 5545 has it
    assert "every-minute@flood" in r.err and "every-second-for-35-years@flood" in r.err and "event_left_out" in r.err
    assert r.err.count("event_read_once") == 2 and "uid=february-31st@never why=its rule" in r.err
    assert "leap-day" not in r.err  # every four years is not never
    assert "Traceback" not in r.err
    week = run(["ingest", "tick", "--name", "calendar.week", "--at", "2026-12-02T10:00"])
    [task] = [orjson.loads(line) for line in week.out.splitlines()]
    assert sorted({e["summary"] for e in task["data"]["events"]}) == ["Dentist", "Never", "Never either", "Walk"]


def test_a_caldav_event_repeating_every_minute_is_left_out(home, radicale):
    import caldav

    client = caldav.DAVClient(url=radicale, username="me", password="x")
    calendar = client.principal().make_calendar(name="shared")
    at = lambda *when: dt.datetime(*when, tzinfo=dt.UTC)  # noqa: E731
    calendar.save_event(dtstart=at(2026, 12, 2, 9), dtend=at(2026, 12, 2, 10), summary="Dentist", uid="dentist@test")
    calendar.save_event(dtstart=at(2026, 12, 1), dtend=at(2026, 12, 1, 0, 0, 30), summary="Flood",
                        uid="every-minute@flood", rrule={"FREQ": "MINUTELY"})
    r = run(["ingest", "caldav", radicale, "--user", "me", "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    assert [orjson.loads(line)["data"]["summary"] for line in r.out.splitlines()] == ["Dentist"]
    assert "every-minute@flood" in r.err and "event_left_out" in r.err


ZONES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//hostile//EN
BEGIN:VTIMEZONE
TZID:Flood/Zone
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=SECONDLY;INTERVAL=2
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700101T000001
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=SECONDLY;INTERVAL=2
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Office/Berlin
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:zone-flood@test
DTSTART;TZID=Flood/Zone:20261202T090000
DTEND;TZID=Flood/Zone:20261202T100000
SUMMARY:In a zone that changes every second
END:VEVENT
BEGIN:VEVENT
UID:meeting@test
DTSTART;TZID=Office/Berlin:20261202T090000
DTEND;TZID=Office/Berlin:20261202T100000
SUMMARY:Meeting
END:VEVENT
END:VCALENDAR
"""


def test_a_calendars_own_time_zone_that_changes_every_second_is_not_used(home, tmp_path):
    # found by fuzzing: dateutil counts the rules of a zone a calendar defines itself (a TZID the tz
    # database does not know) from their start, for every time it converts; a zone that changed every
    # second since 1970 kept a read busy for hours. The events in it are left out; a zone of the usual
    # kind (yearly rules, since 1601 as Outlook writes them) is read
    zones = tmp_path / "zones.ics"
    zones.write_text(ZONES)
    r = run(["ingest", "ics", str(zones), "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    assert [(e["summary"], e["start"]) for e in (orjson.loads(line)["data"] for line in r.out.splitlines())] == [
        ("Meeting", "2026-12-02T09:00:00+01:00")]
    assert "zone-flood@test" in r.err and "'Flood/Zone' changes its offset more often than monthly" in r.err
    assert "Traceback" not in r.err


def zoned_event(uid: str, offset: str) -> str:
    """An event in a zone its calendar defines itself, "Office/Zone" (a TZID the tz database does not know)."""
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Office/Zone\r\n"
            f"BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
            f"END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
            f"DTSTART;TZID=Office/Zone:20261202T090000\r\nDTEND;TZID=Office/Zone:20261202T100000\r\n"
            f"SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_each_calendar_object_keeps_its_own_time_zone(home, radicale):
    # icalendar kept a zone a calendar defines itself for the whole process, the first read winning: an
    # invitation with its own "Office/Zone" read before the person's event of the same TZID moved that
    # event to the invitation's offset (09:00 +05:00 for 09:00 +01:00: four hours off)
    import caldav

    client = caldav.DAVClient(url=radicale, username="me", password="x")
    calendar = client.principal().make_calendar(name="shared")
    calendar.save_event(zoned_event("invitation@elsewhere", "+0500"))
    calendar.save_event(zoned_event("mine@home", "+0100"))
    r = run(["ingest", "caldav", radicale, "--user", "me", "--since", "2026-11-30", "--until", "2026-12-07"])
    assert r.code == 0, r.err
    starts = {e["summary"]: e["start"] for e in (orjson.loads(line)["data"] for line in r.out.splitlines())}
    assert starts == {"invitation@elsewhere": "2026-12-02T09:00:00+05:00", "mine@home": "2026-12-02T09:00:00+01:00"}


ADDING = """
[routes.cal]
actions = ["calendar.add"]
[actions.calendar]
{where}
"""


def test_an_event_the_person_put_on_the_calendar_themselves_is_not_added_again(home, radicale, tmp_path):
    """"Add lunch with Ana on Friday at 1pm" waits for approval; meanwhile the person puts it on the
    calendar from their phone (or asks twice). Approved, it was on the calendar twice. An event with the
    same summary (case and spaces aside) at the same moment (whatever the zone it is written in) is found,
    on a CalDAV server or in an ICS file, and not added again; the result names the one found."""
    from zoneinfo import ZoneInfo

    import caldav

    calendar = caldav.DAVClient(url=radicale, username="me", password="x").principal().make_calendar(name="home")
    berlin = ZoneInfo("Europe/Berlin")
    calendar.save_event(dtstart=dt.datetime(2026, 12, 4, 13, tzinfo=berlin),
                        dtend=dt.datetime(2026, 12, 4, 14, tzinfo=berlin), summary="Lunch with Ana", uid="lunch@phone")
    ics = tmp_path / "cal.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\nUID:dentist@phone\r\n"
                   "DTSTAMP:20261201T000000Z\r\nDTSTART:20261201T080000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\n"
                   "END:VCALENDAR\r\n")

    def add(summary: str, start: str) -> dict:
        doc = {"type": "email.received", "intent": {"route": "cal"}, "data": {"subject": "x"},
               "result": {"parsed": {"actions": [{"type": "calendar.add",
                                                  "args": {"summary": summary, "start": start}}]}}}
        r = run(["act"], orjson.dumps(doc) + b"\n")
        assert r.code == 0, r.err
        [action] = r.lines[0]["actions"]
        assert action["status"] == "done", action
        return action["result"]

    (home / "assist.toml").write_text(ADDING.format(where=f'caldav = "{radicale}"\nusername = "me"\ncalendar = "home"'))
    found = add("lunch with  ANA", "2026-12-04T12:00:00+00:00")  # the same moment, written in UTC
    assert found.get("found") == "lunch@phone" and "not_added" in found and len(calendar.events()) == 1, found
    assert "found" not in add("Lunch with Ana", "2026-12-11T13:00:00+01:00")  # another Friday
    assert "found" not in add("Call Ana", "2026-12-04T13:00:00+01:00")  # another event at that time
    assert len(calendar.events()) == 3

    (home / "assist.toml").write_text(ADDING.format(where=f'file = "{ics}"'))
    assert add("Dentist", "2026-12-01T09:00:00+01:00")["found"] == "dentist@phone"
    assert "found" not in add("Dentist", "2026-12-01T10:00:00+01:00")
    assert ics.read_text().count("BEGIN:VEVENT") == 2


def test_an_event_over_several_days_is_described_with_its_last_day():
    """"Mon 7 Dec (all day) Holiday" of a holiday until Friday told the model, and the person, one day; and
    an answer naming Friday would be flagged as no event's day (asking.unsupported_dates). An all-day
    event's end is the day after its last (RFC 5545)."""
    import datetime as dt

    from assist.agenda import describe

    utc = dt.UTC
    assert describe({"start": "2026-12-07", "end": "2026-12-12", "all_day": True, "summary": "Holiday"}, utc) == \
        "Mon 7 Dec-Fri 11 Dec (all day) Holiday"
    assert describe({"start": "2026-12-05", "end": "2026-12-06", "all_day": True, "summary": "Mum's birthday"},
                    utc) == "Sat 5 Dec (all day) Mum's birthday"
    assert describe({"start": "2026-12-11T22:00:00+00:00", "end": "2026-12-12T02:00:00+00:00", "summary": "Party"},
                    utc) == "Fri 11 Dec 22:00-Sat 12 Dec 02:00 Party"
    assert describe({"start": "2026-12-11T09:00:00+00:00", "end": "2026-12-11T10:00:00+00:00", "summary": "Call"},
                    utc) == "Fri 11 Dec 09:00-10:00 Call"


def test_an_event_of_a_day_and_no_time_is_added_for_the_whole_day(home, radicale, tmp_path):
    """"add dentist on friday" said "say when: a day and a time"; a calendar app makes it an event of the
    whole day, and so does assist now: dates (RFC 5545's VALUE=DATE, its end the day after), on a CalDAV
    server and in an ICS file, found rather than added again, and a date beside a time is refused."""
    import caldav

    calendar = caldav.DAVClient(url=radicale, username="me", password="x").principal().make_calendar(name="home")
    ics = tmp_path / "cal.ics"

    def add(args: dict) -> dict:
        doc = {"type": "email.received", "intent": {"route": "cal"}, "data": {"subject": "x"},
               "result": {"parsed": {"actions": [{"type": "calendar.add", "args": args}]}}}
        r = run(["act"], orjson.dumps(doc) + b"\n")
        if r.code == 1:  # the action failed: the task is kept aside, its error said
            return {"status": "failed", "error": r.err}
        assert r.code == 0, r.err
        [action] = r.lines[0]["actions"]
        return action

    for where in (f'caldav = "{radicale}"\nusername = "me"\ncalendar = "home"', f'file = "{ics}"'):
        (home / "assist.toml").write_text(ADDING.format(where=where))
        done = add({"summary": "Dentist", "start": "2026-12-04", "end": "2026-12-05"})
        assert done["status"] == "done" and "found" not in done["result"], done
        again = add({"summary": "dentist", "start": "2026-12-04"})  # the same day's: found, not added
        assert again["status"] == "done" and again["result"].get("not_added"), again
        mixed = add({"summary": "Dentist", "start": "2026-12-04", "end": "2026-12-04T10:00:00+01:00"})
        assert mixed["status"] == "failed" and "both" in mixed["error"], mixed
    [added] = calendar.events()
    assert added.icalendar_component.decoded("dtstart") == dt.date(2026, 12, 4)
    assert added.icalendar_component.decoded("dtend") == dt.date(2026, 12, 5)
    assert ics.read_text().count("BEGIN:VEVENT") == 1 and "DTSTART;VALUE=DATE:20261204" in ics.read_text()
    from assist.agenda import between
    from assist.config_file import load

    # the calendar assist reads has it at once, as the person reads it
    seen = between(load(home), dt.datetime(2026, 12, 4, tzinfo=dt.UTC), dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    assert [(e["summary"], e.get("all_day")) for e in seen] == [("Dentist", True)] * 2  # one in each calendar
