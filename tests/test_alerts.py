"""Alerts when tasks land in failed/ or wait for a person's approval: a webhook (a real local HTTP
server), an email (a real aiosmtpd server), a desktop notification (a stand-in `notify-send` on PATH: no
desktop session runs here), the rate limit shared by every worker, and config check."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from aiosmtpd.controller import Controller

from assist.demo.servers import start_dovecot
from conftest import BILLS_ROUTE, FAST_CONFIG, UNSURE_ROUTES, Inbox, bill, free_port, jsonl, run

BROKEN = {"type": "email.received", "data": {"subject": "private matters", "body_text": "the secret body"},
          "prompt": {"messages": [{"role": "user", "content": "hi"}], "model": "nowhere"}}


@pytest.fixture
def hooks():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()


def fail(count: int) -> None:
    """`count` tasks that fail for good in `assist run` (their model does not exist)."""
    assert run(["enqueue", "--queue", "run"], jsonl(*[BROKEN] * count)).code == 0
    assert run(["run", "--from", "run", "--once"]).code == 1


def test_a_webhook_per_failed_task_within_the_rate(home, hooks):
    url, received = hooks
    (home / "assist.toml").write_text(FAST_CONFIG + f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n'
                                                    'rate = "2/3s"\n')
    assert run(["config", "check"]).code == 0
    fail(5)
    assert len(received) == 2
    failed = {t["id"] for t in run(["queue", "ls", "--state", "failed", "--json"]).json()}
    for alert in received:
        assert alert["kind"] == "task_failed" and alert["queue"] == "run" and alert["task"] in failed
        assert "models.nowhere: no such model" in alert["error"] and alert["held_back_before"] == 0
        assert "secret body" not in orjson.dumps(alert).decode() and "private" not in orjson.dumps(alert).decode()
    assert orjson.loads((home / "state" / "alerts.json").read_bytes())["held_back"] == 3
    time.sleep(3.1)  # a new period: the next alert goes out and says how many were held back
    fail(1)
    assert len(received) == 3 and received[2]["held_back_before"] == 3
    logs = (home / "logs" / "run.jsonl").read_text()
    assert logs.count('"alert_sent"') == 3 and logs.count('"alert_held_back"') == 3


def test_an_email_alert_through_the_smtp_server(home):
    inbox = Inbox()
    messages = inbox.messages
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        (home / "assist.toml").write_text(FAST_CONFIG + f"""
[alerts]
notify = ["email"]
email = "me@example.org"

[actions.smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
from = "assistant@example.org"
""")
        fail(1)
    finally:
        smtp.stop()
    [msg] = messages
    [task] = run(["queue", "ls", "--state", "failed", "--json"]).json()
    assert msg["To"] == "me@example.org" and msg["Subject"] == "assist: a task failed in queue run"
    # a robot's mail (RFC 3834): no vacation reply answers it, and assist reading it back takes it for bulk
    assert msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_payload(decode=True).decode()
    assert task["id"] in body and "models.nowhere" in body and f"assist queue retry {task['id']}" in body
    assert "secret body" not in body

    # The alert arrives in the INBOX assist reads: it was read as new mail, summarised into the Inbox note,
    # and when that failed too (the same fault), alerted about again, in a loop at the alerts' rate. assist
    # knows its own alerts (their Message-IDs, random, kept in state/) and leaves them to the person; a
    # mail that only looks like one (a sender can copy every header but an id it never saw) is mail.
    imap = start_dovecot()
    try:
        imap.deliver(msg.as_bytes(), 1)
        del msg["Message-ID"]
        msg["Message-ID"] = "<forged.alert@assist.local>"
        imap.deliver(msg.as_bytes(), 2)
        os.environ["ASSIST_IMAP_PASSWORD"] = imap.password
        read = run(["ingest", "imap", "--plain", "--host", "127.0.0.1", "--port", str(imap.port), "--user", imap.user,
                    "--once"])
    finally:
        imap.stop()
        os.environ.pop("ASSIST_IMAP_PASSWORD", None)
    assert read.code == 0 and [e["data"]["message_id"] for e in read.lines] == ["<forged.alert@assist.local>"]
    assert "1 event(s)" in read.err and "1 of assist's own alerts" in read.err, read.err


@pytest.fixture
def notify_send(tmp_path):
    """A stand-in `notify-send` first on PATH (no desktop session runs here): the file its calls' arguments
    are written to, one a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "notify-send.calls"
    stand_in = bin_dir / "notify-send"  # stands in for the desktop's notification service
    stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {calls}\n')
    stand_in.chmod(0o755)
    os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    return calls


def test_a_desktop_notification_and_a_broken_notifier_do_not_fail_the_stage(home, notify_send, hooks):
    calls = notify_send
    dead_port = free_port()
    (home / "assist.toml").write_text(FAST_CONFIG + f'[alerts]\nnotify = ["webhook", "desktop"]\n'
                                                    f'webhook = "http://127.0.0.1:{dead_port}/nobody"\n')
    fail(1)
    lines = calls.read_text().splitlines()
    assert "--urgency=critical" in lines and "assist: a task failed in queue run" in lines
    logs = [orjson.loads(line) for line in (home / "logs" / "run.jsonl").read_text().splitlines()]
    assert any(r["event"] == "alert_failed" and r["channel"] == "webhook" for r in logs)
    assert any(r["event"] == "alert_sent" and r["channel"] == "desktop" for r in logs)
    assert len(run(["queue", "ls", "--state", "failed", "--json"]).json()) == 1


def test_a_desktop_notification_shows_an_error_as_text_not_markup(home, notify_send):
    """Notification services read the body as markup (<b>, <a href>, <img>): an error that quotes a
    Message-ID or a model's argument (`<a href=...>verify your account</a>` as a path) was a link in it,
    and `<m1@example.org>` vanished as an unknown tag."""
    from assist.alerts import Alerts
    from assist.config_file import load
    from assist.log import for_component

    (home / "assist.toml").write_text('[alerts]\nnotify = ["desktop"]\n')
    config = load()
    error = "email: no message <m1@example.org> in INBOX; <a href='https://e.example/'>verify</a> & more"
    Alerts(config, for_component(config, "act")).task_failed({"id": "T1", "type": "t", "meta": {}}, "act", error)
    sent = notify_send.read_text()
    assert "&lt;m1@example.org&gt;" in sent and "&lt;a href='https://e.example/'&gt;verify&lt;/a&gt; &amp; more" in sent
    assert "<a " not in sent and "<m1" not in sent


def test_a_desktop_notification_from_cron_reaches_the_session(home, tmp_path, monkeypatch):
    """`assist init` schedules the worker with cron, whose jobs have no DBUS_SESSION_BUS_ADDRESS:
    notify-send could not reach the desktop, and every desktop alert failed (a warning in a log nobody
    reads). With no address set, the alert is sent to the session bus of the user's runtime folder
    ($XDG_RUNTIME_DIR/bus, else /run/user/UID/bus) when there is one; an address that is set is kept."""
    import socket

    from assist.alerts import Alerts
    from assist.config_file import load
    from assist.log import for_component

    bin_dir, seen = tmp_path / "bin", tmp_path / "bus-address"
    bin_dir.mkdir()
    stand_in = bin_dir / "notify-send"  # stands in for the desktop's notification service
    stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS" >> {seen}\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    bus = socket.socket(socket.AF_UNIX)
    bus.bind(str(runtime / "bus"))  # the user's session bus
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    (home / "assist.toml").write_text('[alerts]\nnotify = ["desktop"]\n')
    config = load()
    alerts = Alerts(config, for_component(config, "act"))
    alerts.task_failed({"id": "T1", "type": "t", "meta": {}}, "act", "boom")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/elsewhere/bus")
    alerts.task_failed({"id": "T2", "type": "t", "meta": {}}, "act", "boom")
    bus.close()
    assert seen.read_text().splitlines() == [f"unix:path={runtime / 'bus'}", "unix:path=/elsewhere/bus"]


def test_config_check_names_what_alerts_miss(home):
    (home / "assist.toml").write_text('[alerts]\nnotify = ["webhook", "email", "pager"]\nrate = "often"\n')
    r = run(["config", "check"])
    assert r.code == 78 and "'pager' is not one of" in r.err and "alerts.rate" in r.err
    (home / "assist.toml").write_text('[alerts]\nnotify = ["webhook", "email"]\n')
    r = run(["config", "check"])
    assert r.code == 78
    assert "alerts.webhook: notify has webhook but no URL" in r.err and "[actions.smtp], which has no host" in r.err


def test_config_check_warns_of_desktop_alerts_with_nothing_to_show_them(home, tmp_path, monkeypatch):
    """Desktop alerts on a machine without notify-send (a server, a home copied from a laptop) fail, each
    one a warning in a log nobody reads: `config check` says so, and how to get it."""
    (home / "assist.toml").write_text('[alerts]\nnotify = ["desktop"]\n')
    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))  # no notify-send there (assist itself is run by its full path)
    r = run(["config", "check"])
    assert r.code == 0 and "alerts.notify: desktop, but notify-send is not installed" in r.err, r.err
    (bare / "notify-send").write_text("#!/bin/sh\n")  # stands in for the desktop's notification service
    (bare / "notify-send").chmod(0o755)
    r = run(["config", "check"])
    assert r.code == 0 and "notify-send" not in r.err, r.err


def test_a_task_whose_worker_died_on_its_last_attempt_raises_an_alert(home, hooks):
    from assist.config_file import load
    url, received = hooks
    (home / "assist.toml").write_text(f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n')
    assert run(["enqueue", "--queue", "q"], jsonl({"type": "t", "meta": {"max_attempts": 1}})).code == 0
    queue = load(home).backend().queue("q")
    [lease] = queue.claim(1, lease_s=0.1)  # a worker that stops renewing its lease (as if it hung)
    time.sleep(0.3)
    assert run(["stage", "passthrough", "--from", "q", "--once"]).code == 0  # its reap finds the lease
    assert [t["id"] for t in run(["queue", "ls", "--state", "failed", "--json"]).json()] == [lease.id]
    [alert] = received
    assert alert["queue"] == "q" and alert["task"] is None
    assert "1 task(s) went to failed/ when their worker died" in alert["error"]


def test_a_task_waiting_for_approval_raises_an_alert(home, hooks, notify_send, tmp_path):
    """An urgent mail's flag and reply draft wait for the person's approval, and nothing told them: they
    waited until the person happened to open `assist top`. With alerts on, a task held for approval
    raises one (its id, queue, type, route and the actions that wait; never the mail's content); a task
    held because no route was sure (a question that can wait) does not, unless `held = "all"`; and
    `held = "none"` raises none."""
    url, received = hooks
    (tmp_path / "vault").mkdir()

    def configure(held: str | None) -> None:
        (home / "assist.toml").write_text(FAST_CONFIG + BILLS_ROUTE.format(vault=tmp_path / "vault") + UNSURE_ROUTES
                                          + f'[alerts]\nnotify = ["webhook", "desktop"]\nwebhook = "{url}"\n'
                                          + (f'held = "{held}"\n' if held else ""))
        assert run(["config", "check"]).code == 0

    unsure = {"type": "email.received", "data": {"subject": "private matters", "body_text": "the secret body"}}
    configure(None)
    assert run(["act"], jsonl(bill("private matters"))).code == 0
    assert run(["classify"], jsonl(unsure)).code == 0  # held: no route was sure
    assert len(received) == 1, received
    alert = received[0]
    held = run(["queue", "ls", "--state", "hold", "--json"]).json()
    waiting = next(t for t in held if t.get("route") == "bills" or t["queue"] == "act")
    assert alert["kind"] == "task_held" and alert["task"] == waiting["id"] and alert["queue"] == "act"
    assert alert["route"] == "bills" and alert["waiting"] == ["notes.append"] and alert["type"] == "email.received"
    assert "private" not in orjson.dumps(alert).decode() and "secret" not in orjson.dumps(alert).decode()
    shown = notify_send.read_text()
    assert "assist: a task waits for your approval" in shown and "private" not in shown, shown
    assert "route bills) in queue act: awaiting approval: notes.append" in shown, shown
    assert f"approve with: assist queue approve {waiting['id']}\n" in shown + "\n", shown

    assert run(["enqueue", "--queue", "mail"], jsonl(bill("from a queue"))).code == 0  # as assist work takes it
    assert run(["act", "--from", "mail", "--once"]).code == 0
    assert len(received) == 2 and received[1]["queue"] == "mail" and received[1]["waiting"] == ["notes.append"]

    configure("all")
    assert run(["classify"], jsonl({**unsure, "data": {"subject": "another", "body_text": "x"}})).code == 0
    assert len(received) == 3 and received[2]["kind"] == "task_held" and received[2]["waiting"] == []
    assert received[2]["queue"] == "classify" and "no confident route" in received[2]["reason"]
    assert f"assist queue approve {received[2]['task']} --route NAME" in notify_send.read_text()

    from assist.alerts import Alerts
    from assist.config_file import load
    from assist.log import for_component

    config = load()  # `assist ask`'s own request, held: the person is told at the terminal, not alerted
    asked = {"id": "T1", "type": "request", "source": "ask", "actions": [{"type": "calendar.add",
                                                                          "status": "awaiting_approval"}]}
    Alerts(config, for_component(config, "act")).task_held(asked, "ask", "awaiting approval: calendar.add")
    assert len(received) == 3

    configure("none")
    assert run(["act"], jsonl(bill("later"))).code == 0
    assert len(received) == 3
    assert "alerts.held: 'some' is not one of: 'approvals', 'all', 'none'" in run_check_with(
        home, FAST_CONFIG + '[alerts]\nheld = "some"\n')


def run_check_with(home, text: str) -> str:
    (home / "assist.toml").write_text(text)
    check = run(["config", "check"])
    assert check.code != 0
    return check.err + check.out


def test_a_stage_stopped_by_a_fault_is_alerted_once_it_lasts_and_once_a_day_after(home, hooks, gguf):
    """A stage that stops (a model missing or damaged, a damaged journal, a full disk) stopped at every
    cron tick with a line in a log nobody reads: no task failed, so no alert went out, and the person's
    mail waited for days. The fault is alerted once it has lasted `[alerts] stopped` (30 minutes: a
    moment's fault is no news), then once a day while it lasts; a run without it ends it, and the next
    such fault is alerted again."""
    url, received = hooks
    alerts = f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n'
    routes = '[routes.echo]\ntemplate = "echo"\n'
    (home / "assist.toml").write_text(FAST_CONFIG + alerts + routes)
    assert run(["config", "check"]).code == 0
    task = {"type": "text", "data": {"text": "x"}, "intent": {"route": "echo"}}
    assert run(["enqueue", "--queue", "prompt"], jsonl(task)).code == 0
    assert run(["prompt", "--from", "prompt", "--once"]).code == 69  # no model pulled
    assert received == []  # a first sighting: it may pass
    (home / "assist.toml").write_text(FAST_CONFIG + alerts + 'stopped = "0s"\n' + routes)
    assert run(["prompt", "--from", "prompt", "--once"]).code == 69
    assert run(["prompt", "--from", "prompt", "--once"]).code == 69
    [alert] = received  # once, not at every tick
    assert alert["kind"] == "stopped" and alert["command"] == "prompt", alert
    assert "assist models pull" in alert["error"] and "held_back_before" in alert
    (home / "models").mkdir()
    (home / "models" / gguf.name).symlink_to(gguf)
    assert run(["prompt", "--from", "prompt", "--once"]).code == 0  # pulled: the fault is over
    (home / "models" / gguf.name).unlink()
    assert run(["enqueue", "--queue", "prompt"], jsonl(task)).code == 0
    assert run(["prompt", "--from", "prompt", "--once"]).code == 69
    assert len(received) == 2 and received[1]["kind"] == "stopped"


def test_mail_reading_stopped_by_a_refused_sign_in_is_alerted(home, hooks, monkeypatch):
    """A changed password, a revoked app password or token: `assist ingest imap` was refused at every
    tick, and no new mail was read, with nothing to tell the person. It is alerted (once it lasts), the
    password never in it."""
    url, received = hooks
    imap = start_dovecot()
    try:
        (home / "assist.toml").write_text(FAST_CONFIG + f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n'
                                                        'stopped = "0s"\n')
        monkeypatch.setenv("ASSIST_IMAP_PASSWORD", "an-old-password")
        args = ["ingest", "imap", "--plain", "--host", "127.0.0.1", "--port", str(imap.port), "--user", imap.user,
                "--once", "--to", "inbox"]
        refused = run(args)
        assert refused.code == 1 and "refused" in refused.err
        [alert] = received
        assert alert["kind"] == "stopped" and alert["command"] == "ingest imap testuser@127.0.0.1/INBOX", alert
        assert "login as testuser refused" in alert["error"] and "an-old-password" not in orjson.dumps(alert).decode()
        monkeypatch.setenv("ASSIST_IMAP_PASSWORD", imap.password)
        assert run(args).code == 0
        assert not orjson.loads((home / "state" / "stopped.json").read_bytes())  # the fault is over
    finally:
        imap.stop()


def test_a_mail_folder_gone_from_under_cron_is_alerted_and_each_reader_keeps_its_own_record(home, hooks, tmp_path):
    """A Maildir or mbox on a drive that is not mounted (an external disk, a share): `assist ingest maildir`
    under cron said "not a Maildir" at every tick, and nobody was told. It is alerted once it lasts. And
    a home that reads two folders (two accounts) kept one record for both: the one that worked ended the
    other's fault at every tick, so it was never alerted. Each reader has its own, named in the alert."""
    url, received = hooks
    (home / "assist.toml").write_text(FAST_CONFIG + f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n'
                                                    'stopped = "0s"\n')
    work, private = tmp_path / "work" / "Maildir", tmp_path / "private" / "Maildir"
    for folder in (work, private):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    archive = tmp_path / "archive.mbox"
    archive.write_bytes(b"From a@b Mon Jan  1 00:00:00 2026\nFrom: a@b\nSubject: old\n\nhi\n")
    assert run(["ingest", "maildir", str(work)]).code == 0 and run(["ingest", "mbox", str(archive)]).code == 0
    work.rename(tmp_path / "unmounted")
    archive.rename(tmp_path / "archive.away")
    for _ in range(2):  # two cron ticks: one alert each, and the private folder read fine between them
        assert run(["ingest", "maildir", str(work)]).code == 2
        assert run(["ingest", "maildir", str(private)]).code == 0
        assert run(["ingest", "mbox", str(archive)]).code == 2
    assert sorted(a["command"] for a in received) == [f"ingest maildir {work}", f"ingest mbox {archive}"], received
    assert all(a["kind"] == "stopped" for a in received) and "not a Maildir" in received[0]["error"] + \
        received[1]["error"]
    (tmp_path / "unmounted").rename(work)
    (tmp_path / "archive.away").rename(archive)
    assert run(["ingest", "maildir", str(work)]).code == 0 and run(["ingest", "mbox", str(archive)]).code == 0
    assert not orjson.loads((home / "state" / "stopped.json").read_bytes())  # both faults are over


def test_calendar_reading_stopped_by_its_server_gone_is_alerted_once(home, hooks, radicale):
    """`assist ingest caldav` under cron whose server is gone (moved, down, its password changed) read
    no calendar again, and said so only to cron: alerted once it lasts, once a day after. Another server
    read fine does not end its record (each server has its own; a run that reads the same server again
    does: the Maildir test above)."""
    url, received = hooks
    (home / "assist.toml").write_text(FAST_CONFIG + f'[alerts]\nnotify = ["webhook"]\nwebhook = "{url}"\n'
                                                    'stopped = "0s"\n')
    gone = ["ingest", "caldav", "http://me:s3cret@127.0.0.1:9/", "--user", "me"]
    assert run(gone).code == 69 and run(gone).code == 69
    assert len(received) == 1, received
    [alert] = received
    assert alert["kind"] == "stopped" and alert["command"] == "ingest caldav http://me:***@127.0.0.1:9/", alert
    assert "cannot" in alert["error"] and "s3cret" not in orjson.dumps(alert).decode(), alert
    assert run(["ingest", "caldav", radicale, "--user", "me"]).code == 0
    assert list(orjson.loads((home / "state" / "stopped.json").read_bytes())) == [alert["command"]]
