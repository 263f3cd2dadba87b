"""`assist init`: a working home in one step.

It signs in to the mail account first (a mistake is said before anything is written), then writes an
assist.toml from the template (the routes a user wants on day one, `defaults/assist.toml` in
the package, the checkout's own assist.toml in a checkout) with the account and folders it was given,
keeps the mail password in the encrypted token store, fetches the default model, checks the result, looks
at what would happen to the newest messages (changing nothing), and says how to run it from cron or
systemd. Run again, it changes nothing that is already right, and it never replaces a user's file
without keeping the old one and saying so.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "# --- accounts and folders:"
LOCAL_SPAMD = "127.0.0.1:783"  # where Debian's spamd listens (apt install spamassassin)
TOKEN = "mail"  # the token-store entry init keeps the mail password in


@dataclass
class MailAccount:
    imap_host: str
    user: str
    imap_port: int | None = None
    imap_security: str = "tls"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    sender: str | None = None
    password: str | None = None  # kept in the token store as TOKEN
    token: str | None = None  # or: an entry already in the token store (an OAuth2 token, a password)
    password_env: str | None = None  # or: an environment variable
    cafile: str | None = None


@dataclass
class Plan:
    notes: str = "notes"
    mail: MailAccount | None = None
    pull_model: bool = True
    force: bool = False
    spamd: str | None = None  # HOST:PORT of a spamd asked about each mail
    desktop_alerts: bool = False  # tell the person on their desktop when a task waits for them or fails
    said: list[str] = field(default_factory=list)


def template() -> str:
    """The assist.toml a new home starts from, up to the part init writes."""
    package = Path(__file__).parent
    for candidate in (package / "defaults" / "assist.toml", package.parent.parent / "assist.toml"):
        if candidate.is_file():
            text = candidate.read_text()
            return text.split(MARKER)[0].rstrip() + "\n"
    raise FileNotFoundError("the default assist.toml is missing from this installation")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def accounts(plan: Plan) -> str:
    """The part of assist.toml init writes: the notes folder, the calendar file events are added to, the
    mail account, a local spamd and desktop alerts."""
    lines = [f"{MARKER} `assist init` writes this part (everything below this line) ---",
             "", "[actions.notes]", f"vault = {_quote(plan.notes)}",
             "", "[actions.calendar]", 'file = "calendar.ics"']
    mail = plan.mail
    if mail is not None:
        secret = (f"token = {_quote(mail.token or TOKEN)}" if not mail.password_env
                  else f"password_env = {_quote(mail.password_env)}")
        lines += ["", "[actions.imap]", f"host = {_quote(mail.imap_host)}"]
        if mail.imap_port:
            lines.append(f"port = {mail.imap_port}")
        lines += [f"security = {_quote(mail.imap_security)}", f"username = {_quote(mail.user)}", secret,
                  'drafts = "Drafts"', 'sent = "Sent"']
        if mail.cafile:
            lines.append(f"cafile = {_quote(mail.cafile)}")
        if mail.smtp_host:
            lines += ["", "[actions.smtp]", f"host = {_quote(mail.smtp_host)}"]
            if mail.smtp_port:
                lines.append(f"port = {mail.smtp_port}")
            lines += [f"security = {_quote(mail.smtp_security)}", f"username = {_quote(mail.user)}", secret,
                      f"from = {_quote(mail.sender or mail.user)}"]
            if mail.cafile:
                lines.append(f"cafile = {_quote(mail.cafile)}")
    if plan.spamd:
        lines += ["", "[classify]", f"spamd = {_quote(plan.spamd)}"]
    if plan.desktop_alerts:
        lines += ["", "[alerts]", 'notify = ["desktop"]']
    return "\n".join(lines) + "\n"


def find_desktop(asked: str | None) -> tuple[bool, str]:
    """(whether to turn desktop alerts on, what to say): `asked` is --alerts ("desktop" or "none");
    without it, on when this machine has a desktop session to notify (alerts.desktop_here)."""
    from .alerts import desktop_here

    if asked == "none":
        return False, "alerts: off (--alerts none)"
    if asked == "desktop" or desktop_here():
        return True, ("alerts: desktop notifications when a reply or a flag waits for your approval, or a task "
                      "fails ([alerts] in assist.toml)")
    return False, ("alerts: no desktop here to notify (notify-send and a session); [alerts] in assist.toml can "
                   "send a webhook or a mail instead (docs/management.md)")


def find_spamd(asked: str | None) -> tuple[str | None, str]:
    """(the spamd to write, what to say): `asked` is --spamd (HOST:PORT, or "none"); without it, the one
    at LOCAL_SPAMD if it answers. An address given that does not answer yet is written all the same."""
    from .spamd import SpamdError, answers, parse_address

    if asked == "none":
        return None, "spamd: not used (--spamd none)"
    if asked is None:
        if answers(LOCAL_SPAMD):
            return LOCAL_SPAMD, f"spamd: found at {LOCAL_SPAMD}; each mail is checked by it too ([classify] spamd)"
        return None, (f"spamd: none at {LOCAL_SPAMD} (optional: apt install spamassassin, then assist init again: "
                      "more spam caught, docs/classify.md)")
    from .net import is_loopback

    try:
        host, _ = parse_address(asked)
    except SpamdError as exc:
        raise ValueError(str(exc)) from None
    if not is_loopback(host):  # each mail would go there whole: a choice made in assist.toml, not here
        raise ValueError(f"spamd {asked}: {host} is not on this machine; to send it each mail, set "
                         "allow_remote = true and [classify] spamd in assist.toml")
    if answers(asked):
        return asked, f"spamd: {asked} answers; each mail is checked by it too ([classify] spamd)"
    return asked, (f"spamd: nothing answers at {asked} yet; written all the same (until it does, each mail "
                   "records the error and goes on)")


def write_config(home: Path, text: str, force: bool) -> tuple[Path, str]:
    """Write assist.toml; (the file written, what happened). An existing file that differs is kept:
    the new one goes beside it (assist.toml.new), or, with force, replaces it after a backup."""
    from .fileutil import write_atomic

    path = home / "assist.toml"
    if path.exists():
        if path.read_text() == text:
            return path, "unchanged"
        if not force:
            proposed = home / "assist.toml.new"
            write_atomic(proposed, text.encode(), mode=0o600)
            return proposed, f"kept your {path}; the one init would write is {proposed} (compare them, or --force)"
        backup = home / f"assist.toml.bak-{time.strftime('%Y%m%d-%H%M%S')}"
        backup.write_bytes(path.read_bytes())
        write_atomic(path, text.encode(), mode=0o600)
        return path, f"replaced {path}; the old one is {backup}"
    write_atomic(path, text.encode(), mode=0o600)
    return path, "written"


def ensure_token_store(home: Path) -> str | None:
    """Make the encrypted token store if there is none (the mail password goes there, and `assist serve`
    signs its sessions with its key); what was done, or None."""
    from .auth.store import TokenStore

    store = TokenStore(home)
    if store.exists():
        return None
    store.init("file")
    return f"token store: made {store.path} (its key in a 0600 file beside it)"


def sign_in(home: Path, mail: MailAccount) -> list[str]:
    """Sign in to the account's IMAP server, then its SMTP server when it has one, reading nothing and
    sending nothing: what to say of each. AssistError, one line, for the first that does not work: a
    mistake found now is not written into the home, and cron does not meet it every five minutes."""
    import imaplib
    from functools import partial

    from .auth.secrets import secret
    from .mail import ImapAccount, imap_connect, imap_port, smtp_sign_in

    renew = partial(secret, home, mail.token) if mail.token else None
    password = "" if renew else mail.password or os.environ.get(mail.password_env or "", "")
    port = mail.imap_port or imap_port(mail.imap_security)
    account = ImapAccount(mail.imap_host, port, mail.user, password, "INBOX", mail.imap_security, mail.cafile, renew)
    conn = imap_connect(account)
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()
    said = [f"mail: signed in to {mail.imap_host}:{port} as {mail.user}"]
    if mail.smtp_host:
        smtp = {"host": mail.smtp_host, "security": mail.smtp_security, "username": mail.user, "cafile": mail.cafile,
                **({"port": mail.smtp_port} if mail.smtp_port else {})}
        smtp_port, signed = smtp_sign_in(smtp, renew() if renew else password)
        shown = f"{mail.smtp_host}:{smtp_port}"
        said.append(f"sending: signed in to {shown} (nothing sent)" if signed else
                    f"sending: {shown} takes mail without signing in (nothing sent)")
    return said


def keep_password(home: Path, mail: MailAccount) -> str | None:
    """Put the mail password in the token store; what was done, or None."""
    if not mail.password or mail.token or mail.password_env:
        return None
    from .auth.store import TokenStore

    TokenStore(home).set(TOKEN, {"kind": "password", "username": mail.user, "password": mail.password})
    return f"the mail password is in the token store as {TOKEN!r}"


def newest(config: Any, count: int) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """The newest `count` messages of the configured IMAP account as events (one over a day old as the
    backlog it is to the first run), and how many messages the first run reads and leaves alone
    (ingest/imap.py), read-only: nothing is marked seen, and ingestion's own state is not touched."""
    import imaplib
    import time

    from .ingest.events import FIRST_BACKLOG_S, from_the_backlog
    from .ingest.imap import first_run_share
    from .ingest.mail import parse_message
    from .mail import configured_account, imap_reading
    from .task import normalize

    with imap_reading(configured_account(config), "the inbox") as conn:
        conn.select("INBOX", readonly=True)
        share = first_run_share(conn)
        _, data = conn.uid("SEARCH", "ALL")
        uids = (data[0] or b"").split()[-count:]
        events = []
        for uid in uids:
            _, parts = conn.uid("FETCH", uid.decode(), "(INTERNALDATE BODY.PEEK[])")
            part = next((p for p in parts if isinstance(p, tuple)), None)
            if part is not None:
                event = normalize({"type": "email.received", "source": "imap:preview",
                                   "data": parse_message(part[1])}, source="imap:preview")
                arrived = imaplib.Internaldate2tuple(part[0])
                old = arrived is not None and time.mktime(arrived) < time.time() - FIRST_BACKLOG_S
                events.append(from_the_backlog(event) if old else event)  # as --backlog would read it
        return events, share


def preview(config: Any, events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """What would happen to each event: (subject, route, actions), from the rules and the intent model and
    the routes' plans; no model is asked and nothing is done."""
    from .act.plan import plan
    from .stages.base import Hold, StageContext
    from .stages.classify import ClassifyStage

    stage = ClassifyStage(config)
    ctx = StageContext(config, _Quiet())
    rows = []
    for outcome in stage.process_batch(events, ctx):
        task = outcome.task if isinstance(outcome, Hold) else outcome
        if not isinstance(task, dict):
            continue
        route = (task.get("intent") or {}).get("route", "?")
        if isinstance(outcome, Hold):
            what = "held for you to route"
        else:
            planned = plan(task, config)
            what = ", ".join(f"{a['type']} ({a['status'].replace('_', ' ')})" for a in planned) or "a summary only"
        if task["data"].get("backlog"):
            what += "; left alone by the first run (over a day old; --backlog reads it)"
        rows.append((task["data"].get("subject", ""), route, what))
    return rows


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def cron_lines(home: Path, assist: str, imap: bool = True, accounts: Sequence[str] = ()) -> list[str]:
    """Crontab lines: fetch (each of the person's other `accounts` too, [actions.imap.accounts.NAME]), then
    work the queue (also when a fetch failed: the queue still drains); and with a mail account, every hour,
    the held mail the person handled in their mail client (`queue tidy`), and once a day, whom the person
    wrote to from elsewhere (their client's Sent folder) and what they moved into Junk (or Lists)
    themselves."""
    import shlex

    env, cmd = f"ASSIST_HOME={shlex.quote(str(home))}", shlex.quote(assist)
    work = f"{env} {cmd} work --from inbox --once >/dev/null"
    if not imap:  # no fetch that would fail every five minutes
        return [f"*/5 * * * * {work}"]
    fetch = "".join(f"{env} {cmd} ingest imap{f' --account {shlex.quote(name)}' if name else ''} --once --to inbox; "
                    for name in ["", *accounts])
    return [f"*/5 * * * * {fetch}{work}",
            f"41 * * * * {env} {cmd} queue tidy >/dev/null",
            f"17 4 * * * {env} {cmd} classify correspondents --from-sent >/dev/null; "
            f"{env} {cmd} classify junk >/dev/null"]


def systemd_units(home: Path, assist: str, imap: bool = True) -> dict[str, str]:
    """The user units that keep a worker running, and when there is a mail account an IMAP IDLE listener
    (and its template for the person's other accounts: assist-imap@NAME for [actions.imap.accounts.NAME]),
    an hourly timer for the held mail the person handled in their mail client (`queue tidy`), and daily
    timers that read whom the person wrote to from the Sent folder, and what they moved into Junk (or
    Lists) themselves."""
    common = f'[Service]\nEnvironment="ASSIST_HOME={home}"\nRestart=on-failure\nRestartSec=30\n'
    units = {
        "assist-imap.service": "[Unit]\nDescription=assist: new mail as it arrives (IMAP IDLE)\n"
                               "After=network-online.target\n\n" + common
                               + f"ExecStart=\"{assist}\" ingest imap --idle --to inbox\n\n"
                               "[Install]\nWantedBy=default.target\n",
        "assist-work.service": "[Unit]\nDescription=assist: the worker (classify, prompt, run, act)\n\n" + common
                               + f"ExecStart=\"{assist}\" work --from inbox --follow\nStandardOutput=null\n\n"
                               "[Install]\nWantedBy=default.target\n",
    }
    if not imap:
        del units["assist-imap.service"]
        return units
    units["assist-imap@.service"] = (
        "[Unit]\nDescription=assist: new mail of the account %i as it arrives (IMAP IDLE)\n"
        "After=network-online.target\n\n" + common
        + f"ExecStart=\"{assist}\" ingest imap --account %i --idle --to inbox\n\n[Install]\nWantedBy=default.target\n")
    units["assist-correspondents.service"] = (
        "[Unit]\nDescription=assist: whom you wrote to, from the Sent folder\nAfter=network-online.target\n\n"
        f'[Service]\nType=oneshot\nEnvironment="ASSIST_HOME={home}"\n'
        f"ExecStart=\"{assist}\" classify correspondents --from-sent\nStandardOutput=null\n")
    units["assist-correspondents.timer"] = (
        "[Unit]\nDescription=assist: whom you wrote to, once a day\n\n"
        "[Timer]\nOnCalendar=daily\nPersistent=true\nRandomizedDelaySec=1h\n\n[Install]\nWantedBy=timers.target\n")
    units["assist-junk.service"] = (  # worded as homes have it (Lists is read too): `init` again changes nothing
        "[Unit]\nDescription=assist: what you moved into Junk, learned as spam\nAfter=network-online.target\n\n"
        f'[Service]\nType=oneshot\nEnvironment="ASSIST_HOME={home}"\n'
        f"ExecStart=\"{assist}\" classify junk\nStandardOutput=null\n")
    units["assist-tidy.service"] = (
        "[Unit]\nDescription=assist: held mail you handled in your mail client, no longer asked about\n"
        "After=network-online.target\n\n"
        f'[Service]\nType=oneshot\nEnvironment="ASSIST_HOME={home}"\n'
        f"ExecStart=\"{assist}\" queue tidy\nStandardOutput=null\n")
    units["assist-tidy.timer"] = (
        "[Unit]\nDescription=assist: held mail you handled elsewhere, every hour\n\n"
        "[Timer]\nOnCalendar=hourly\nPersistent=true\nRandomizedDelaySec=5m\n\n[Install]\nWantedBy=timers.target\n")
    units["assist-junk.timer"] = (
        "[Unit]\nDescription=assist: what you moved into Junk, once a day\n\n"
        "[Timer]\nOnCalendar=daily\nPersistent=true\nRandomizedDelaySec=1h\n\n[Install]\nWantedBy=timers.target\n")
    return units


def install_units(home: Path, assist: str, imap: bool = True, accounts: Sequence[str] = ()) -> list[str]:
    """Write the units into ~/.config/systemd/user and enable them (an IMAP listener for each of the
    person's other `accounts` too); what was done, line by line."""
    import shutil
    import subprocess

    from .home import user_config_dir

    folder = user_config_dir() / "systemd" / "user"
    folder.mkdir(parents=True, exist_ok=True)
    said = []
    units = systemd_units(home, assist, imap)
    for name, text in units.items():
        (folder / name).write_text(text)
        said.append(f"wrote {folder / name}")
    started = []  # not the oneshots (their timers run them), nor a template (its instances: each account's)
    for name, text in units.items():
        if "Type=oneshot" not in text and "@." not in name:
            started.append(name)
        if name == "assist-imap.service":
            started += [f"assist-imap@{account}.service" for account in accounts]
    if shutil.which("systemctl") is None:
        return [*said, f"no systemctl here: enable them where systemd runs (systemctl --user enable --now "
                       f"{' '.join(n.removesuffix('.service') for n in started)})"]
    for args in (["daemon-reload"], ["enable", "--now", *started]):
        done = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
            return [*said, f"systemctl --user {' '.join(args)}: {reason}"]
    return [*said, f"enabled and started: {', '.join(n.removesuffix('.service') for n in started)} "
                   "(systemctl --user status assist-work)"]
