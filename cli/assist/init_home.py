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
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "# --- accounts and folders:"
LOCAL_SPAMD = "127.0.0.1:783"  # where Debian's spamd listens (apt install spamassassin)
TOKEN = "mail"  # the token-store entry init keeps the mail password in
# the NAME of another account ([actions.imap.accounts.NAME]): a TOML bare key, a crontab argument and a
# systemd instance name (assist-imap@NAME) as it is
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # as the config's schema has it


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
    account: str = ""  # `mail` is another account of the person's, added under this name


def token_name(account: str = "") -> str:
    """The token-store entry an account's password is kept in: "mail", "mail-NAME" for another account."""
    return f"{TOKEN}-{account}" if account else TOKEN


def template() -> str:
    """The assist.toml a new home starts from, up to the part init writes."""
    package = Path(__file__).parent
    for candidate in (package / "defaults" / "assist.toml", package.parent.parent / "assist.toml"):
        if candidate.is_file():
            text = candidate.read_text()
            return text.split(MARKER)[0].rstrip() + "\n"
    raise FileNotFoundError("the default assist.toml is missing from this installation")


def _quote(value: str) -> str:
    """A TOML basic string (a control character escaped: no value can end its line)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quote(name)


def _value(value: Any) -> str:
    """A TOML value, as init writes it (a string quoted, a list or a table inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(each) for each in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    return str(value)  # a number, a date


def _table(header: str, items: dict[str, Any]) -> list[str]:
    return ["", f"[{header}]", *(f"{_key(key)} = {_value(value)}" for key, value in items.items())]


def _mail_settings(mail: MailAccount, token: str, named: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """An account's IMAP section, and its SMTP section ({} when it sends through none); `named`: the
    account's own From for its drafts too, when given (another account's section has room for it)."""
    secret = {"password_env": mail.password_env} if mail.password_env else {"token": mail.token or token}
    port = {"port": mail.imap_port} if mail.imap_port else {}
    cafile = {"cafile": mail.cafile} if mail.cafile else {}
    sender = {"from": mail.sender} if named and mail.sender else {}
    imap = {"host": mail.imap_host, **port, "security": mail.imap_security, "username": mail.user, **secret,
            "drafts": "Drafts", "sent": "Sent", **sender, **cafile}
    if not mail.smtp_host:
        return imap, {}
    port = {"port": mail.smtp_port} if mail.smtp_port else {}
    return imap, {"host": mail.smtp_host, **port, "security": mail.smtp_security, "username": mail.user, **secret,
                  "from": mail.sender or mail.user, **cafile}


def accounts(plan: Plan, others: str = "") -> str:
    """The part of assist.toml init writes: the notes folder, the calendar file events are added to, the
    mail account, a local spamd and desktop alerts; then the person's `others` (other_accounts)."""
    lines = [f"{MARKER} `assist init` writes this part (everything below this line) ---",
             "", "[actions.notes]", f"vault = {_quote(plan.notes)}",
             "", "[actions.calendar]", 'file = "calendar.ics"']
    if plan.mail is not None:
        imap, smtp = _mail_settings(plan.mail, TOKEN)
        lines += _table("actions.imap", imap) + (_table("actions.smtp", smtp) if smtp else [])
    if plan.spamd:
        lines += ["", "[classify]", f"spamd = {_quote(plan.spamd)}"]
    if plan.desktop_alerts:
        lines += ["", "[alerts]", 'notify = ["desktop"]']
    return "\n".join(lines) + "\n" + others


def _account_tables(name: str, imap: dict[str, Any] | None, smtp: dict[str, Any] | None) -> str:
    lines = _table(f"actions.imap.accounts.{_key(name)}", imap) if imap is not None else []
    lines += _table(f"actions.smtp.accounts.{_key(name)}", smtp) if smtp else []
    return "\n".join(lines) + "\n" if lines else ""


def _read_toml(path: Path) -> dict[str, Any] | None:
    import tomllib

    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def other_accounts(home: Path) -> str:
    """The person's other accounts in their assist.toml ([actions.imap.accounts.NAME], each followed by
    its [actions.smtp.accounts.NAME]), as `init --account` writes them: init run again for the first
    account keeps them, and changes nothing when they are as it wrote them."""
    raw = _read_toml(home / "assist.toml") or {}
    actions = raw.get("actions", {})
    imap = (actions.get("imap") or {}).get("accounts") or {}
    smtp = (actions.get("smtp") or {}).get("accounts") or {}
    return ("".join(_account_tables(name, imap[name], smtp.get(name)) for name in imap)
            + "".join(_account_tables(name, None, smtp[name]) for name in smtp if name not in imap))


def add_account(home: Path, name: str, mail: MailAccount) -> tuple[str | None, str]:
    """assist.toml with another account of the person's added ([actions.imap.accounts.NAME], and
    [actions.smtp.accounts.NAME] when it sends), the rest of the file as it is; and what that is.
    (None, "unchanged") when it is there as it would be written. ConfigError when there is no first account
    to add it to; UsageError for a name given to other settings, or a mailbox configured already."""
    import tomllib

    from .errors import ConfigError, UsageError
    from .mail import imap_port

    path = home / "assist.toml"
    first = "set up your first with assist init --imap-host HOST --user LOGIN, then add this one"
    raw = _read_toml(path) if path.is_file() else {}
    if raw is None:
        raise ConfigError([f"{path} cannot be read as TOML: mend it first (assist config check)"])
    actions = raw.get("actions", {})
    main = actions.get("imap") or {}
    if not main.get("host"):
        raise ConfigError([f"no first account yet in {path}: {first}"])
    imap, smtp = _mail_settings(mail, token_name(name), named=True)
    others = main.get("accounts") or {}
    had, had_smtp = others.get(name), ((actions.get("smtp") or {}).get("accounts") or {}).get(name)
    if had is not None or had_smtp is not None:
        if had == imap and (had_smtp or {}) == smtp:
            return None, "unchanged"
        raise UsageError(f"an account named {name!r} is already in {path}, with other settings: edit it there "
                         "(docs/ingest.md), or give this one another name")
    port = mail.imap_port or imap_port(mail.imap_security)
    for label, section in [("[actions.imap]", main), *((f"[actions.imap.accounts.{n}]", s) for n, s in others.items())]:
        where = (section.get("host"), section.get("port") or imap_port(section.get("security", "tls")))
        if (*where, section.get("username")) == (mail.imap_host, port, mail.user):
            raise UsageError(f"{mail.user} at {mail.imap_host}:{port} is already in assist.toml as {label}")
    text = path.read_text().rstrip("\n") + "\n" + _account_tables(name, imap, smtp)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # accounts written inline, say: the person's file is theirs to edit
        raise UsageError(f"{path}: the account cannot be added to it as it is written ({exc}): add "
                         f"[actions.imap.accounts.{name}] by hand (docs/ingest.md)") from None
    return text, f"added [actions.imap.accounts.{name}]" + (f" and [actions.smtp.accounts.{name}]" if smtp else "")


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


def replace_config(path: Path, text: str) -> None:
    """Write assist.toml whole, where it is: a link to the person's own copy (their dotfiles) stays a
    link, and the copy is what changes."""
    from .fileutil import write_atomic

    write_atomic(path.resolve(), text.encode(), mode=0o600)


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
        replace_config(path, text)
        return path, f"replaced {path}; the old one is {backup}"
    replace_config(path, text)
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


def keep_password(home: Path, mail: MailAccount, account: str = "") -> str | None:
    """Put the mail password in the token store (as token_name(account)); what was done, or None."""
    if not mail.password or mail.token or mail.password_env:
        return None
    from .auth.store import TokenStore

    name = token_name(account)
    TokenStore(home).set(name, {"kind": "password", "username": mail.user, "password": mail.password})
    return f"the mail password is in the token store as {name!r}"


def newest(config: Any, count: int, account: str = "") -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """The newest `count` messages of the configured IMAP account (`account`: the one so named) as events
    (one over a day old as the
    backlog it is to the first run), and how many messages the first run reads and leaves alone
    (ingest/imap.py), read-only: nothing is marked seen, and ingestion's own state is not touched."""
    import imaplib
    import time

    from .ingest.events import FIRST_BACKLOG_S, from_the_backlog
    from .ingest.imap import first_run_share
    from .ingest.mail import parse_message
    from .mail import configured_account, imap_reading
    from .task import normalize

    with imap_reading(configured_account(config, name=account), "the inbox") as conn:
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
    the held mail the person handled in their mail client (`queue tidy`) and what they moved into Junk (or
    Lists) themselves (`classify junk`: a campaign's next mails are caught within the hour, not the next
    day), and once a day whom the person wrote to from elsewhere (their client's Sent folder)."""
    import shlex

    env, cmd = f"ASSIST_HOME={shlex.quote(str(home))}", shlex.quote(assist)
    work = f"{env} {cmd} work --from inbox --once >/dev/null"
    if not imap:  # no fetch that would fail every five minutes
        return [f"*/5 * * * * {work}"]
    fetch = "".join(f"{env} {cmd} ingest imap{f' --account {shlex.quote(name)}' if name else ''} --once --to inbox; "
                    for name in ["", *accounts])
    return [f"*/5 * * * * {fetch}{work}",
            f"41 * * * * {env} {cmd} queue tidy >/dev/null; {env} {cmd} classify junk >/dev/null",
            f"17 4 * * * {env} {cmd} classify correspondents --from-sent >/dev/null"]


def systemd_units(home: Path, assist: str, imap: bool = True) -> dict[str, str]:
    """The user units that keep a worker running, and when there is a mail account an IMAP IDLE listener
    (and its template for the person's other accounts: assist-imap@NAME for [actions.imap.accounts.NAME]),
    hourly timers for the held mail the person handled in their mail client (`queue tidy`) and what they
    moved into Junk (or Lists) themselves, and a daily one that reads whom the person wrote to from the
    Sent folder."""
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
        "[Unit]\nDescription=assist: what you moved into Junk, every hour\n\n"
        "[Timer]\nOnCalendar=hourly\nPersistent=true\nRandomizedDelaySec=5m\n\n[Install]\nWantedBy=timers.target\n")
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
