"""Alerts: when a task lands in failed/ (its attempts used up, or a permanent error, or its worker died
on its last attempt), or waits for a person's approval (held), tell the person.

    [alerts]
    notify = ["desktop", "webhook", "email"]   # any of these
    webhook = "http://127.0.0.1:9000/assist"  # POST a JSON alert (a remote URL needs allow_remote)
    email = "me@example.org"                   # sent through [actions.smtp]
    rate = "10/h"                              # at most this many alerts per period; the rest are counted
    held = "approvals"                         # held tasks that raise one: approvals (default), all, none
    stopped = "30m"                            # a command stopped by the same fault this long: one alert

A command a fault stops (a stage: a model missing or damaged, a damaged journal, a full disk; a mail
reader: its sign-in refused, its folder gone) fails no task, and stops again at every cron tick: it is
alerted once the same fault has lasted `stopped` (a moment's fault, a laptop offline, is no news), then
once a day while it lasts; a run without it ends it (state/stopped.json). A reader's record is its
source's ("ingest imap me@host/INBOX"): one account read fine does not end another's fault.

An alert names the task (id, queue, type; a held one its route, the actions that wait and why it is
held) and the error, never the message's content. Over the rate,
alerts are counted, not sent; the next one that goes out says how many were held back. The count is kept
in state/alerts.json under a lock, so every worker on the machine shares one budget. A notifier that
fails is logged (as a warning) and never fails the task's stage.

An alert mail goes to the person, often to the INBOX assist reads: read back as new mail, it was
summarised into the Inbox note, and alerted about again when that failed too (the same fault), in a loop
at the rate. Its Message-ID is random and kept (OwnAlerts, state/alerts-sent): mail ingestion leaves
those to the person. A sender can copy every other header of one, not an id it never saw.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .timeutil import rfc3339

if TYPE_CHECKING:
    from pathlib import Path

    from .config import Config

STOPPED_AFTER = "30m"
STOPPED_AGAIN_S = 86400.0  # a fault that lasts is told again once a day
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|m|h|d)\s*$")  # 10/h, 2/30s
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_RATE = "10/h"


def parse_rate(text: str) -> tuple[int, float]:
    match = RATE.match(text)
    if not match:
        raise ValueError(f"alerts.rate: {text!r} is not like 10/h")
    return int(match.group(1)), float(int(match.group(2) or 1) * UNITS[match.group(3)])


def problems(raw: dict[str, Any]) -> list[str]:
    """What `assist config check` says about [alerts]."""
    settings = raw.get("alerts", {})
    out = []
    channels = settings.get("notify", [])
    if "webhook" in channels and not settings.get("webhook"):
        out.append("alerts.webhook: notify has webhook but no URL is set")
    if "email" in channels and not settings.get("email"):
        out.append("alerts.email: notify has email but no address is set")
    if "email" in channels and not raw.get("actions", {}).get("smtp", {}).get("host"):
        out.append("alerts.email: alerts are mailed through [actions.smtp], which has no host")
    if settings.get("rate"):
        try:
            if parse_rate(settings["rate"])[0] < 1:
                out.append("alerts.rate: allow at least one alert per period")
        except ValueError as exc:
            out.append(str(exc))
    return out


class Alerts:
    def __init__(self, config: Config, log: Any):
        self.config, self.log = config, log
        self.settings = config.section("alerts")
        self.channels: list[str] = list(self.settings.get("notify", []))

    def task_failed(self, doc: dict[str, Any], queue: str, error: str) -> None:
        if not self.channels:
            return
        self._send({"kind": "task_failed", "task": doc.get("id"), "queue": queue, "type": doc.get("type"),
                    "error": error[:500], "attempts": doc.get("meta", {}).get("attempts")})

    def stopped(self, command: str, error: str) -> None:
        """`command` ("prompt", "ingest imap") stopped by a fault: alerted once it has lasted `stopped`,
        then once a day while it lasts."""
        after = self.settings.get("stopped", STOPPED_AFTER)
        if not self.channels or after == "none":
            return
        from .timeutil import parse_duration

        # the same fault says the same: an address in memory ("object at 0x7f2c...") aside
        same = re.sub(r"0x[0-9a-fA-F]+", "0x…", error[:500])
        if Stoppages(self.config.home).due(command, same, parse_duration(after)):
            self._send({"kind": "stopped", "task": None, "queue": None, "command": command, "error": error[:500]})

    def going(self, command: str) -> None:
        """`command` ran without a fault: the one that stopped it, if any, is over."""
        Stoppages(self.config.home).over(command)

    def _send(self, alert: dict[str, Any]) -> None:
        """Through every channel, within the rate (over it, counted for the next alert to say)."""
        held_back = self._admit()
        if held_back is None:
            self.log.info("alert_held_back", task=alert["task"], queue=alert["queue"])
            return
        alert.update(at=rfc3339(), host=socket.gethostname(), held_back_before=held_back)
        for channel in self.channels:
            try:
                getattr(self, f"_{channel}")(alert)
                self.log.info("alert_sent", channel=channel, task=alert["task"])
            except Exception as exc:  # an alert that cannot go out must not fail the stage
                self.log.warning("alert_failed", channel=channel, task=alert["task"],
                                 error=f"{type(exc).__name__}: {exc}"[:300])

    def task_held(self, doc: dict[str, Any], queue: str, reason: str) -> None:
        """A task held for a person: an alert when its actions wait for approval (a reply drafted, a flag),
        or for any hold with `held = "all"`; never for `assist ask`'s own, which the person is told of at
        the terminal. Why a task is held names actions and routes, not the content."""
        policy = self.settings.get("held", "approvals")
        if not self.channels or policy == "none" or doc.get("source") == "ask":
            return
        from .act.approvals import waiting

        actions = doc.get("actions")
        waits = waiting(actions) if isinstance(actions, list) and reason.startswith("awaiting approval") else []
        if policy == "approvals" and not waits:
            return
        self._send({"kind": "task_held", "task": doc.get("id"), "queue": queue, "type": doc.get("type"),
                    "route": (doc.get("intent") or {}).get("route"), "waiting": waits, "reason": reason[:500]})

    def reaped_to_failed(self, queue: str, count: int) -> None:
        """Tasks whose worker died (or overran its lease) on their last attempt: `reap` put them in failed/."""
        self.task_failed({"id": None, "type": None, "meta": {}}, queue,
                         f"{count} task(s) went to failed/ when their worker died or overran its lease; "
                         f"see them with: assist queue ls --queue {queue} --state failed")

    def _admit(self) -> int | None:
        """None when over the rate (counted); else how many were held back since the last alert. The
        budget is the home's (stores/): shared by every worker, on every machine of a Redis queue."""
        from .stores import open_stores

        limit, period = parse_rate(self.settings.get("rate", DEFAULT_RATE))
        return open_stores(self.config).alerts.admit(limit, period)

    def _text(self, alert: dict[str, Any]) -> tuple[str, str]:
        title = f"assist: a task failed in queue {alert['queue']}"
        if alert["kind"] == "stopped":
            title = f"assist: {alert['command']} has stopped"
            body = (f"assist {alert['command']} stops at each run: {alert['error']}\n"
                    "It goes on once that is put right (assist logs shows its runs).")
        elif alert["kind"] == "task_held":
            title = f"assist: {'a task waits for your approval' if alert['waiting'] else 'a task waits for you'}"
            route = f", route {alert['route']}" if alert["route"] else ""
            approve = f"assist queue approve {alert['task']}" + ("" if alert["waiting"] else " --route NAME")
            body = (f"task {alert['task']} ({alert['type']}{route}) in queue {alert['queue']}: {alert['reason']}\n"
                    f"See it with: assist queue show {alert['task']} (or assist top); approve with: {approve}")
        elif alert["task"] is None:  # several, found by reap
            body = alert["error"]
        else:
            body = (f"task {alert['task']} ({alert['type']}) failed after {alert['attempts']} attempt(s): "
                    f"{alert['error']}\nSee it with: assist queue show {alert['task']}; "
                    f"retry with: assist queue retry {alert['task']}")
        if alert["held_back_before"]:
            body += f"\n({alert['held_back_before']} earlier alert(s) were held back by alerts.rate)"
        return title, body

    def _webhook(self, alert: dict[str, Any]) -> None:
        from .net import request, require_local

        url = self.settings["webhook"]

        def check(target: str) -> None:
            require_local(target, self.config, "alerts.webhook" if target == url else
                          f"alerts.webhook (a redirect from {url}, not followed)")

        request("POST", url, check=check, json=alert, timeout=10).raise_for_status()

    def _email(self, alert: dict[str, Any]) -> None:
        from email.message import EmailMessage
        from email.utils import make_msgid

        from .auth.secrets import section_secret
        from .mail import smtp_send

        title, body = self._text(alert)
        msg = EmailMessage()
        smtp = self.config.action_section("smtp")
        msg["From"] = smtp.get("from", "assist@localhost")
        msg["To"] = self.settings["email"]
        msg["Subject"] = title
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation reply to it; read back, it is bulk
        msg["Message-ID"] = make_msgid("alert", domain="assist.local")
        msg.set_content(body)
        own = OwnAlerts(self.config.home)
        own.add(msg["Message-ID"])  # before it goes: it can arrive before the send returns
        smtp_send(msg, smtp, section_secret(smtp, self.config.home))

    def _desktop(self, alert: dict[str, Any]) -> None:
        import html
        import subprocess

        title, body = self._text(alert)
        # notification services read the body as markup (<b>, <a href>): an error quoting a Message-ID or a
        # model's argument is text
        subprocess.run(["notify-send", "--app-name=assist", "--urgency=critical", title,
                        html.escape(body, quote=False)], check=True, timeout=10, capture_output=True,
                       env=_with_session_bus(dict(os.environ)))


@contextlib.contextmanager
def watched(config: Config, command: str, log: Any) -> Iterator[None]:
    """A command's run (`assist ingest imap`): the fault that stops it (an AssistError: its sign-in
    refused, its server gone) is alerted once it lasts; a run without one ends it."""
    from .errors import AssistError

    alerts = Alerts(config, log)
    try:
        yield
    except AssistError as exc:
        alerts.stopped(command, str(exc))
        raise
    alerts.going(command)


class Stoppages:
    """The fault that stopped each command, while it lasts: {command: {error, since, alerted}} in
    state/stopped.json, changed under a file lock (workers and cron ticks at once)."""

    def __init__(self, home: Path):
        self.home = home
        self.path = home / "state" / "stopped.json"

    def due(self, command: str, error: str, after_s: float) -> bool:
        """Record that `error` stopped `command` now; whether it is to be alerted now: it has lasted
        after_s and was not alerted in the last STOPPED_AGAIN_S."""
        import time

        now = time.time()

        def change(faults: dict[str, Any]) -> tuple[dict[str, Any], bool]:
            seen = faults.get(command)
            if not isinstance(seen, dict) or seen.get("error") != error:
                seen = faults[command] = {"error": error, "since": now, "alerted": None}
            alerted = seen.get("alerted")
            due = now - float(seen.get("since") or now) >= after_s and \
                (not isinstance(alerted, int | float) or now - alerted >= STOPPED_AGAIN_S)
            if due:
                seen["alerted"] = now
            return faults, due

        return bool(self._file().change(change))

    def over(self, command: str) -> None:
        if self.path.exists():  # the common case, a command that runs as it should, reads nothing
            self._file().change(lambda faults: ({k: v for k, v in faults.items() if k != command}, None))

    def _file(self) -> Any:
        from .stores.local import LockedFile

        return LockedFile(self.home, self.path.name)


def _with_session_bus(env: dict[str, str]) -> dict[str, str]:
    """A cron job has no DBUS_SESSION_BUS_ADDRESS, so notify-send cannot reach the desktop: point it at
    the user's session bus when there is one."""
    bus = session_bus(env)
    if bus:
        env["DBUS_SESSION_BUS_ADDRESS"] = bus
    return env


def session_bus(env: dict[str, str]) -> str | None:
    """The address of the user's desktop session bus: the one set, else $XDG_RUNTIME_DIR/bus (else
    /run/user/UID/bus) when that socket is there; None when there is no session to notify."""
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return env["DBUS_SESSION_BUS_ADDRESS"]
    path = os.path.join(env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}", "bus")
    return f"unix:path={path}" if os.path.exists(path) else None


def desktop_here() -> bool:
    """Whether desktop alerts can be shown on this machine now: notify-send, and a session to show them in."""
    import shutil

    return shutil.which("notify-send") is not None and session_bus(dict(os.environ)) is not None


class OwnAlerts:
    """The Message-IDs of the alert mails this home sent (digests, the newest KEEP), for mail ingestion
    to leave to the person."""
    KEEP = 1000

    def __init__(self, home: Path):
        from .digest_file import DigestFile

        self._file = DigestFile(home / "state" / "alerts-sent", keep=self.KEEP)

    @staticmethod
    def _digest(message_id: str) -> str:
        import hashlib

        return hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()

    def add(self, message_id: str) -> None:
        self._file.add([self._digest(message_id)])

    def holds(self, doc: dict[str, Any]) -> bool:
        """Whether a mail event is one of these alerts."""
        data = doc.get("data")
        message_id = data.get("message_id") if isinstance(data, dict) else None
        return isinstance(message_id, str) and bool(message_id) and self._digest(message_id) in self._file.known()

