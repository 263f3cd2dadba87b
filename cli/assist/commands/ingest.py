"""`assist ingest`: events from mail, stdin and timers, to stdout or (--to) a queue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._common import load_config, queue_name

to_option = click.option("--to", "dest", metavar="QUEUE", default=None, callback=queue_name,
                         help="Put the events in this queue (durably) instead of writing them to stdout.")


def _sink(dest: str | None):
    from ..ingest.events import Sink

    config = load_config()
    return config, Sink(config, dest)


def _done(config, source: str, count: int, read: Any = None) -> None:
    """Log and say how many events a run sent, and what else its mail source's `read` (events.Read) says."""
    from .. import log

    log.for_component(config, "ingest").info("ingested", source=source, count=count)
    click.echo(f"assist ingest {source}: {count} event(s)", err=True)
    for line in read.said() if read is not None else []:
        click.echo(f"assist ingest {source}: {line}", err=True)


def _backlog(text: str | None) -> float | None:
    import math

    from ..timeutil import parse_duration

    if text is None:
        return None
    if text.strip().lower() == "all":
        return math.inf
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--backlog") from None


@click.group()
def ingest() -> None:
    """Turn mail, lines of text and timer ticks into events (task documents).

    Events go to stdout as JSON lines, ready for the next stage, or with --to QUEUE into the spool.
    Mail sources remember what they ingested (under state/), so each message is ingested once.

    \b
    Examples:
      assist ingest imap --host imap.fastmail.com --user me@fastmail.com --token fastmail --once --to inbox
      assist ingest maildir ~/Maildir --to inbox
      echo "remind me to call mum" | assist ingest stdin | assist enqueue
      assist ingest tick --name morning --to inbox        # from cron
    """


@ingest.command()
@click.option("--type", "kind", default="text", show_default=True, help="The event type of plain text lines.")
@to_option
def stdin(kind: str, dest: str | None) -> None:
    """One event per line of stdin: a JSON object with a "type" is taken as it is, any other line
    becomes {"type": TYPE, "data": {"text": LINE}}. Bad lines are named on stderr (exit 65).

    \b
    Example:
      printf 'buy milk\\ncall mum\\n' | assist ingest stdin --type note --to inbox
    """
    from .. import errors, jsonl
    from ..ingest.lines import ingest_lines

    config, sink = _sink(dest)
    rejects = jsonl.Rejects("assist ingest stdin")
    count = ingest_lines(jsonl.LineReader(sys.stdin.fileno(), config.max_line_bytes), sink, kind, rejects)
    _done(config, "stdin", count)
    sys.exit(errors.DATAERR if rejects.count else errors.OK)


@ingest.command()
@click.option("--name", required=True, help="What the tick is for (routes match on data.name); "
              "calendar.week makes the week's calendar task.")
@click.option("--at", metavar="TIME", default=None, help="The moment the tick stands for (default: now).")
@to_option
def tick(name: str, at: str | None, dest: str | None) -> None:
    """One timer.tick event, for cron or a systemd timer. `--name calendar.week` makes instead the
    calendar.week task of this week (its events from `assist ingest ics` or `assist ingest caldav`; once
    per week), which the default calendar route summarises into the Week note.

    \b
    Examples:
      assist ingest tick --name weekly-review --to inbox
      assist ingest ics ~/cal.ics && assist ingest tick --name calendar.week --to inbox   # Mondays
    """
    from ..ingest.events import event
    from ..timeutil import rfc3339

    config, sink = _sink(dest)
    if name == "calendar.week":
        from ..ingest.calendars import week_task

        sink.send([week_task(config, at)])
    else:
        sink.send([event("timer.tick", f"timer:{name}", {"name": name, "at": at or rfc3339()})])
    _done(config, "tick", 1)


BACKLOG = click.option("--backlog", metavar="DURATION|all",
                       help="How far back the first run reads (default 1d: the last day's mail, by arrival; "
                            "older mail is left alone); on a later run, how far back to read the mail it left "
                            "alone. Mail over a day old read so is the backlog: served after new mail, and "
                            "the urgent rules leave it alone (data.backlog).")


@ingest.command()
@click.argument("path", type=click.Path(path_type=Path))
@to_option
def mbox(path: Path, dest: str | None) -> None:
    """The messages of an mbox file not ingested before, whatever their date: an archive is read whole
    (a folder mail keeps arriving in: `assist ingest maildir` or `imap`, whose first run reads the last day).
    A message delivered over a day ago is the backlog: served after new mail, and not flagged or answered.

    \b
    Example:
      assist ingest mbox ~/mail/archive.mbox --to inbox
    """
    from ..alerts import watched
    from ..ingest.local_mail import ingest_mbox

    config, sink = _sink(dest)
    with watched(config, f"ingest mbox {path}", sink.log):  # a file on a drive not mounted: alerted once it lasts
        done = ingest_mbox(path, sink, config.home)
    _done(config, "mbox", done.sent, done)


@ingest.command()
@click.argument("path", type=click.Path(path_type=Path))
@BACKLOG
@to_option
def maildir(path: Path, backlog: str | None, dest: str | None) -> None:
    """The messages of a Maildir folder not ingested before; the first run reads the last day's mail,
    not years of it (--backlog). A file that cannot be read (a named pipe, a link to nothing) is named on
    stderr (exit 65) and tried again on the next run; the others go on.

    \b
    Examples:
      assist ingest maildir ~/Maildir --to inbox
      assist ingest maildir ~/Maildir --to inbox --backlog 7d   # also the last week's older mail
    """
    from .. import errors
    from ..alerts import watched
    from ..ingest.local_mail import ingest_maildir
    from ..printable import printable

    config, sink = _sink(dest)
    with watched(config, f"ingest maildir {path}", sink.log):  # a folder not mounted: alerted once it lasts
        done, unreadable = ingest_maildir(path, sink, config.home, _backlog(backlog))
    for problem in unreadable:
        click.echo(f"assist ingest maildir: {printable(problem)}; tried again on the next run", err=True)
    _done(config, "maildir", done.sent, done)
    sys.exit(errors.DATAERR if unreadable else errors.OK)


SINCE = click.option("--since", metavar="DATE", help="Read events from this date (default: a week ago).")
UNTIL = click.option("--until", metavar="DATE", help="Read events until this date (default: four months ahead).")


@ingest.command()
@click.argument("path", type=click.Path(path_type=Path))
@SINCE
@UNTIL
@to_option
def ics(path: Path, since: str | None, until: str | None, dest: str | None) -> None:
    """The events of an iCalendar (.ics) file as calendar.event tasks, each occurrence of a recurring
    event once across runs (from a week ago to four months ahead), and the calendar `assist ask` and the
    week summary read. Run it from cron to follow a file that changes. An event that repeats more than
    2,000 times in the span read, or whose time or rule cannot be read, is left out and named on stderr;
    one whose rule matches no date is read at its start only.

    \b
    Examples:
      assist ingest ics ~/calendar.ics --to inbox
      assist ingest ics work.ics && assist ingest tick --name calendar.week --to inbox   # Mondays, from cron
    """
    from ..extras import require
    from ..ingest.calendars import ingest_ics

    require("recurring_ical_events", "calendar")
    config, sink = _sink(dest)
    _done(config, "ics", ingest_ics(path, sink, config, since, until))


@ingest.command()
@click.argument("url", required=False)
@click.option("--user", default=None, help="The login (default: [actions.calendar] username).")
@click.option("--cafile", type=click.Path(dir_okay=False, exists=True),
              help="Trust this CA (a server with a certificate of its own; default: [actions.calendar] cafile).")
@SINCE
@UNTIL
@to_option
def caldav(url: str | None, user: str | None, cafile: str | None, since: str | None, until: str | None,
           dest: str | None) -> None:
    """The events of every calendar on a CalDAV server (Radicale, Nextcloud, Fastmail...) as
    calendar.event tasks, like `assist ingest ics`. The password comes from [actions.calendar] token
    (the token store) or password_env; the server must be on this machine unless allow_remote.

    \b
    Examples:
      assist ingest caldav http://127.0.0.1:5232/ --user me --to inbox
      assist ingest caldav                # the server of [actions.calendar] caldav
      assist ingest caldav https://localhost:5232/ --user me --cafile radicale.pem   # its own certificate
    """
    from ..agenda import caldav_account
    from ..alerts import watched
    from ..extras import require
    from ..ingest.calendars import ingest_caldav
    from ..printable import without_password

    require("caldav", "calendar")
    require("recurring_ical_events", "calendar")
    config, sink = _sink(dest)
    source = without_password(caldav_account(config, url, user)[0])  # each server a record of its own
    with watched(config, f"ingest caldav {source}", sink.log):  # a server gone or a refused sign-in: alerted
        _done(config, "caldav", ingest_caldav(sink, config, url, user, since, until, cafile))


@ingest.command()
@click.option("--account", "account_name", metavar="NAME", default="",
              help="Another of your accounts, configured as [actions.imap.accounts.NAME] (default: the account "
                   "of [actions.imap]).")
@click.option("--host", default=None, help="The IMAP server of an account not configured (with --user).")
@click.option("--port", type=int, default=None, help="Default: 993 with --tls, else 143.")
@click.option("--tls", "security", flag_value="tls", default=True, help="IMAP over TLS (default).")
@click.option("--starttls", "security", flag_value="starttls", help="Plain IMAP upgraded with STARTTLS.")
@click.option("--plain", "security", flag_value="plain", help="No encryption: only to this machine.")
@click.option("--cafile", type=click.Path(dir_okay=False), help="Trust this CA (a self-signed server).")
@click.option("--user", default=None, help="The login name (with --host).")
@click.option("--token", "token_name", metavar="NAME",
              help="The password, from the token store (else $ASSIST_IMAP_PASSWORD).")
@click.option("--folder", default="INBOX", show_default=True)
@click.option("--once/--idle", default=True, show_default=True,
              help="Fetch what is new and exit (cron), or keep waiting with IMAP IDLE (polling each "
                   "minute a server without IDLE).")
@BACKLOG
@to_option
def imap(account_name: str, host: str | None, port: int | None, security: str, cafile: str | None,
         user: str | None, token_name: str | None, folder: str, once: bool, backlog: str | None,
         dest: str | None) -> None:
    """New messages of an IMAP folder, each ingested once across runs (UIDVALIDITY/UID state). Without
    --host, the account of [actions.imap] (as `assist init` writes it), or with --account NAME the one of
    [actions.imap.accounts.NAME]: the mail actions then act on each mail in the account it was read from.
    The first run reads the last day's mail, not years of it: the rest is left alone until you ask for it
    with --backlog.

    \b
    Examples:
      assist ingest imap --once --to inbox                  # the configured account
      assist ingest imap --once --to inbox --backlog 7d     # also the last week's older mail
      assist ingest imap --account work --once --to inbox   # [actions.imap.accounts.work]
      assist token set fastmail --kind password --username me@fastmail.com   # once
      assist ingest imap --host imap.fastmail.com --user me@fastmail.com --token fastmail --once --to inbox
    """
    import os

    from ..alerts import watched
    from ..ingest.events import State
    from ..ingest.imap import idle, poll
    from ..mail import ImapAccount, configured_account, imap_port

    if account_name and host is not None:
        raise click.UsageError("--account names a configured account; --host one that is not: give one of them")
    config, sink = _sink(dest)
    if host is None:
        account = configured_account(config, folder, account_name)
    else:
        if not user:
            raise click.UsageError("--user is needed with --host")
        renew = None
        if token_name:
            from functools import partial

            from ..auth.secrets import secret

            password, renew = "", partial(secret, config.home, token_name)  # read at each sign-in
        else:
            password = os.environ.get("ASSIST_IMAP_PASSWORD") or ""
            if not password:
                raise click.UsageError("give --token NAME (see `assist token set`) or set ASSIST_IMAP_PASSWORD")
        account = ImapAccount(host, port or imap_port(security), user, password, folder, security,
                              cafile, renew)
    state = State(config.home, f"imap-{account.name}")
    backlog_s = _backlog(backlog)
    reader = f"ingest imap {account.user}@{account.host}/{account.folder}"  # each account a record of its own
    with watched(config, reader, sink.log):  # a refused sign-in is alerted once it lasts
        if once:
            polled = poll(account, sink, state, backlog_s=backlog_s)
            _done(config, "imap", polled.sent, polled)
            return
        import signal
        import threading

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        idle(account, sink, state, stop, backlog_s=backlog_s)
    _done(config, "imap", sink.count)


@ingest.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=int, default=8787, show_default=True)
@click.option("--to", "dest", metavar="QUEUE", default="inbox", show_default=True, callback=queue_name,
              help="The queue for the events.")
@click.option("--max-body", default="1MB", show_default=True, metavar="SIZE", help="Larger bodies get 413.")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Requests per second per caller.")
@click.option("--burst", type=int, default=100, show_default=True, help="Requests a caller may send at once.")
@click.option("--hmac-token", "hmac_tokens", multiple=True, metavar="NAME",
              help="Accept X-Assist-Signature-256 signatures made with this stored secret (repeatable).")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Serve HTTPS with this certificate (needed to listen beyond loopback).")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The certificate's private key.")
@click.option("--header-timeout", default="10s", show_default=True, metavar="DURATION",
              help="Close a connection whose request headers take longer.")
@click.option("--body-timeout", default="30s", show_default=True, metavar="DURATION",
              help="Answer 408 to a body that takes longer.")
@click.option("--max-connections", type=click.IntRange(1, 100_000), default=256, show_default=True,
              help="Connections open at once; more are closed as they come.")
def http(host: str, port: int, dest: str, max_body: str, rate: float, burst: int, hmac_tokens: tuple[str, ...],
         certfile: str | None, keyfile: str | None, header_timeout: str, body_timeout: str,
         max_connections: int) -> None:
    """Receive webhooks: POST /trigger/NAME with a JSON object makes a webhook.NAME event.

    Callers send a bearer JWT (`assist token jwt --audience ingest`) or a signed request: the headers
    X-Assist-Timestamp (unix seconds, within 5 minutes) and X-Assist-Signature-256 (sha256= and the hex
    HMAC-SHA256 of "TIMESTAMP." followed by the body, with a secret from the token store); a signed
    request is accepted once. Anything else gets 401. A 202 is sent only once the event is stored.
    It listens on loopback unless allow_remote = true and --certfile/--keyfile are given.

    \b
    Examples:
      assist ingest http --port 8787 --to inbox
      curl -H "Authorization: Bearer $(assist token jwt --audience ingest)" \\
           -H 'Content-Type: application/json' -d '{"text": "hi"}' http://127.0.0.1:8787/trigger/note
      ts=$(date +%s); body='{"text": "hi"}'
      sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" | cut -d' ' -f2)
      curl -H "X-Assist-Timestamp: $ts" -H "X-Assist-Signature-256: sha256=$sig" \\
           -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:8787/trigger/note
    """
    from .. import log
    from ..auth.oauth import secret
    from ..auth.store import TokenStore
    from ..httpd import Limits, check_address
    from ..ingest.http import HttpOptions, Replays, build_app, serve
    from ..timeutil import parse_duration

    config = load_config()
    check_address(config, host, certfile, keyfile, "ingest http --host")
    try:
        limits = Limits(parse_duration(header_timeout), parse_duration(body_timeout), max_connections)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    store = TokenStore(config.home)
    replays = Replays(config.home / "state" / "ingest-http.db")
    options = HttpOptions(queue=dest, max_body=_size(max_body), rate=rate, burst=burst,
                          body_timeout_s=limits.body_timeout_s, replays=replays)
    if store.exists():
        options.jwt_key = store.jwt_key()
        options.hmac_secrets = {name: secret(store, name).encode() for name in hmac_tokens}
    elif hmac_tokens:
        raise click.UsageError("--hmac-token needs the token store: run `assist token init` first")
    else:
        raise click.UsageError("no way to check callers: run `assist token init` (for JWTs) or give --hmac-token")
    app = build_app(config.backend().queue(dest), options, log.for_component(config, "ingest-http"))
    scheme = "https" if certfile else "http"
    click.echo(f"assist ingest http: listening on {scheme}://{host}:{port}, events to queue {dest}", err=True)
    serve(app, host, port, certfile, keyfile, limits)


def _size(text: str) -> int:
    import re

    match = re.match(r"^\s*(\d+)\s*(b|kb|k|mb|m)?\s*$", text.lower())
    if not match:
        raise click.BadParameter(f"not a size: {text!r} (e.g. 512KB, 1MB)", param_hint="--max-body")
    return int(match.group(1)) * {"b": 1, "k": 1024, "kb": 1024, "m": 1 << 20, "mb": 1 << 20}[match.group(2) or "b"]


@ingest.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--glob", "globs", multiple=True, metavar="PATTERN",
              help="Only files matching (repeatable), e.g. '*.md'.")
@click.option("--ignore", multiple=True, metavar="PATTERN", help="Also ignore these (temporary files always are).")
@click.option("--debounce", default="500ms", show_default=True, metavar="DURATION",
              help="Quiet time before a file's events become one.")
@click.option("--once/--follow", default=False, show_default=True,
              help="Compare with the last run and exit (cron), or keep watching.")
@to_option
def watch(folders: tuple[Path, ...], globs: tuple[str, ...], ignore: tuple[str, ...], debounce: str, once: bool,
          dest: str | None) -> None:
    """Events for files created, modified, moved or deleted under folders.

    An editor's save (temporary file renamed over the original) gives one file.modified.

    \b
    Examples:
      assist ingest watch ~/Notes --glob '*.md' --to inbox
      assist ingest watch ~/Downloads --once --to inbox      # from cron
    """
    import signal
    import threading

    from ..ingest.watch import Filter, follow
    from ..ingest.watch import once as scan_once
    from ..timeutil import parse_duration

    try:
        debounce_s = parse_duration(debounce)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--debounce") from None
    config, sink = _sink(dest)
    roots = [f.expanduser().resolve() for f in folders]
    keep = Filter(globs, ignore)
    if once:
        _done(config, "watch", scan_once(roots, keep, sink, config.home))
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    where = ", ".join(str(root) for root in roots)
    _done(config, "watch", follow(roots, keep, sink, debounce_s, stop, on_ready=lambda: click.echo(
        f"assist ingest watch: watching {where}, events {f'to queue {dest}' if dest else 'on stdout'}", err=True)))


@ingest.command()
@click.argument("url")
@click.option("--type", "kind", default="ws.message", show_default=True,
              help="The event type of messages that are not events themselves.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many messages.")
@to_option
def ws(url: str, kind: str, count: int | None, dest: str | None) -> None:
    """Each message of a WebSocket feed as an event; reconnects with backoff when the feed drops.

    \b
    Example:
      assist ingest ws ws://127.0.0.1:8123/api/websocket --type homeassistant.event --to inbox
    """
    import signal
    import threading

    from .. import log
    from ..ingest.ws import follow as follow_ws

    config, sink = _sink(dest)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    taken = follow_ws(url, sink, kind, stop, log.for_component(config, "ingest-ws"), count)
    _done(config, "ws", taken)
