"""`assist ingest imap`: new messages of an IMAP folder, each ingested once across runs.

The state (`state/imap-<account>.json`) keeps the folder's UIDVALIDITY and the highest UID ingested. A
batch of messages is sent on (durably, with --to) before the state moves past it, so a crash can repeat
a message but never skip one.

An INBOX holds years of mail, which a first run is not to classify and act on: it reads what arrived
(the server's INTERNALDATE) in the last `backlog` (a day), and the state keeps what it left alone (the
UIDs up to the highest then, that arrived before then: `left`), which a later run given a backlog reads
as far back as asked, as backlog (events.from_the_backlog: served after new mail). After the first run
every new UID is read, whatever its date (a mail moved back into the folder keeps its old one). If the
server's UIDVALIDITY changes (the folder rebuilt or moved: every UID is new), what arrived since the
last run (less a margin for clocks) is read again and the rest is left alone, not the whole folder once
more; of what is read again, a mail an earlier run read (its Message-ID, or its bytes when it has none,
kept for the mail read in the last 2 x REBUILT_MARGIN_S: `read_lately`) is skipped, since under its new UID it
would be a new task, summarised and answered a second time.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..alerts import OwnAlerts
from ..errors import AssistError, Unavailable
from ..mail import ImapAccount, imap_folder
from ..mail import imap_connect as connect
from . import mail as message
from .events import FIRST_BACKLOG_S, Read, Sink, State, accepted_only, event, from_the_backlog

if TYPE_CHECKING:
    from ..config import Config

BATCH = 50
POLL_WITHOUT_IDLE_S = 60.0  # `--idle` against a server that cannot IDLE: how often it looks
REBUILT_MARGIN_S = 600.0  # a rebuilt folder is read from the last run less this (the server's clock is not ours)


@dataclass
class Polled(Read):
    rebuilt: bool = False  # the server gave the folder new UIDs since the last run: `left` were read before
    repeated: int = 0  # of the rebuilt folder's recent mail, those an earlier run read (skipped)

    def left_alone(self) -> str:
        if not self.rebuilt:
            return super().left_alone()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.before))
        skipped = [f"{self.left} message(s) that arrived before {when}"] if self.left else []
        skipped += [f"{self.repeated} read before (the same Message-ID) since"] if self.repeated else []
        return f"the server renumbered the folder (UIDVALIDITY); {' and '.join(skipped)} are not read again"

    def said(self) -> list[str]:
        return super().said() + ([self.left_alone()] if self.repeated and not self.left else [])


def _select(conn: imaplib.IMAP4, folder: str) -> int:
    status, _ = conn.select(imap_folder(folder), readonly=True)
    if status != "OK":
        raise AssistError(f"imap: no folder {folder!r}")
    status, data = conn.response("UIDVALIDITY")
    return int(data[0]) if data and data[0] else 0


def poll(account: ImapAccount, sink: Sink, state: State, conn: imaplib.IMAP4 | None = None,
         backlog_s: float | None = None) -> Polled:
    """Ingest every message newer than the state. `backlog_s`: how far back a first run reads (default a
    day; math.inf: all), and on a later run how far back to read the mail the first one left alone."""
    own = conn is None
    conn = conn or connect(account)
    try:
        uidvalidity = _select(conn, account.folder)
        began = time.time()
        saved = state.load()
        polled = Polled()
        # fingerprint -> when the run that read it began, for the runs a rebuilt folder could read again
        read_lately = {k: float(v) for k, v in dict(saved.get("read_lately") or {}).items()
                       if float(v) >= began - 2 * REBUILT_MARGIN_S}
        fresh = saved.get("uidvalidity") != uidvalidity  # the first run, or every UID is new
        if fresh:
            polled.rebuilt = "at" in saved
            since = saved["at"] - REBUILT_MARGIN_S if polled.rebuilt else \
                began - (FIRST_BACKLOG_S if backlog_s is None else backlog_s)
            uids = _uids(conn, "UID 1:*", 0)  # all of them, the first run's to read or leave alone
            saved = {"uidvalidity": uidvalidity, "last_uid": 0}
            if since > 0 and uids:
                saved["left"] = {"through_uid": uids[-1], "before": since}
        last, left = int(saved.get("last_uid", 0)), saved.get("left")
        through = max(uids, default=0) if fresh else int((left or {}).get("through_uid", 0))  # the first run's
        if not fresh:
            uids = _uids(conn, f"UID {last + 1}:*", last)
        wanted = set(uids)
        if left:
            through, before = int(left["through_uid"]), float(left["before"])
            cutoff = before if fresh or backlog_s is None else min(before, began - backlog_s)
            if cutoff < before or any(u <= through for u in uids):
                dates = _arrived(conn, through, cutoff)  # taken: new UIDs of then, and the left-alone asked for
                taken = {u for u, at in dates.items() if u > last or at < before}
                wanted = {u for u in wanted if u > through} | taken
                polled.left = sum(1 for u in uids if u <= through and u not in taken) if fresh else 0
                polled.before = cutoff
            left = {**left, "before": cutoff} if cutoff > 0 else None
        todo = sorted(wanted)
        old: set[int] = set()
        if backlog_s is not None and not polled.rebuilt and any(u <= through for u in todo):
            recent = _arrived(conn, through, began - FIRST_BACKLOG_S)  # of the first run's UIDs, the last day's
            old = {u for u in todo if u <= through and u not in recent}
        own_alerts = OwnAlerts(sink.config.home)
        with accepted_only(state, sink):
            for start in range(0, len(todo), BATCH):
                chunk = todo[start: start + BATCH]
                events = []
                for fetched in (_fetch(conn, account, uid, uidvalidity, sink.config, uid in old) for uid in chunk):
                    if fetched is None:
                        continue  # expunged since the search
                    doc, fingerprint = fetched
                    if polled.rebuilt and fingerprint in read_lately:
                        polled.repeated += 1  # read before under its old UID
                        continue
                    if own_alerts.holds(doc):
                        polled.alerts += 1
                        continue
                    if not doc["data"].get("backlog"):  # mail of weeks ago is not what a rebuild reads again
                        read_lately[fingerprint] = began
                    events.append(doc)
                sink.send(events)
                polled.backlog += sum(1 for e in events if e["data"].get("backlog"))
                state.save({**saved, "last_uid": max(last, chunk[-1]), "read_lately": read_lately})
                polled.sent += len(events)
            done = {"uidvalidity": uidvalidity, "last_uid": max([last, *uids]), "at": began, "read_lately": read_lately}
            state.save({**done, "left": left} if left else done)
        return polled
    finally:
        if own:
            _logout(conn)


def first_run_share(conn: imaplib.IMAP4) -> tuple[int, int]:
    """(how many messages of the selected folder a first run reads, how many it leaves alone)."""
    uids = _uids(conn, "UID 1:*", 0)
    recent = len(_arrived(conn, uids[-1], time.time() - FIRST_BACKLOG_S)) if uids else 0
    return recent, len(uids) - recent


def _uids(conn: imaplib.IMAP4, criteria: str, above: int) -> list[int]:
    """The UIDs a SEARCH finds, above `above` (`UID n:*` finds the highest one even when it is below n)."""
    status, data = conn.uid("SEARCH", criteria)
    return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > above) if status == "OK" else []


def _arrived(conn: imaplib.IMAP4, through: int, since: float) -> dict[int, float]:
    """{UID: arrival} of the messages up to UID `through` that arrived at `since` or after (INTERNALDATE;
    SEARCH SINCE takes a day, without its time, so the day before is searched, then each date read)."""
    from ..mail import arrivals, imap_day

    status, data = conn.uid("SEARCH", f"UID 1:{through}", "SINCE", imap_day(since - 86400))
    found = [x for x in (data[0] or b"").split() if int(x) <= through] if status == "OK" else []
    return {int(uid): at for uid, at in arrivals(conn, found).items() if at >= since}


def _fetch(conn: imaplib.IMAP4, account: ImapAccount, uid: int, uidvalidity: int,
           config: Config, backlog: bool = False) -> tuple[dict[str, Any], str] | None:
    """The event of one message, and what tells it from others whatever its UID: a hash of its
    Message-ID, or of its bytes when it has none."""
    # the message's size, and its bytes up to the cap (a partial fetch): a huge one is read from its start
    status, data = conn.uid("FETCH", str(uid), f"(RFC822.SIZE BODY.PEEK[]<0.{message.MAX_MESSAGE_BYTES}>)")
    part = next((part for part in data if isinstance(part, tuple)), None)
    if status != "OK" or part is None:
        return None  # expunged since the search
    size = re.search(rb"RFC822\.SIZE (\d+)", part[0])
    source = f"imap://{account.user}@{account.host}/{account.folder};UIDVALIDITY={uidvalidity}/;UID={uid}"
    doc = event("email.received", source, message.mail_data(part[1], config, int(size.group(1)) if size else None),
                key=source)
    doc["data"]["imap"] = {"folder": account.folder, "uid": uid, "uidvalidity": uidvalidity, "account": account.address}
    message_id = doc["data"].get("message_id")
    told_by = message_id.encode("utf-8", "replace") if isinstance(message_id, str) and message_id else part[1]
    return (from_the_backlog(doc) if backlog else doc), hashlib.sha256(told_by).hexdigest()[:16]


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def idle(account: ImapAccount, sink: Sink, state: State, stop: Any, wait_s: float = 25 * 60,
         backlog_s: float | None = None) -> None:
    """Poll, then wait with IMAP IDLE (RFC 2177) for the server to announce new mail; again until stop.
    A server without IDLE (an extension) is polled every POLL_WITHOUT_IDLE_S (or wait_s, if less)."""
    from ..mail import capabilities

    backoff = 1.0
    while not stop.is_set():
        try:
            conn = connect(account)
            backoff = 1.0
            can_idle = "IDLE" in capabilities(conn)
            while not stop.is_set():
                poll(account, sink, state, conn, backlog_s)
                backlog_s = None  # asked for once
                if can_idle:
                    _idle_once(conn, min(wait_s, 29 * 60), stop)
                else:
                    stop.wait(min(wait_s, POLL_WITHOUT_IDLE_S))
        except Unavailable:
            stop.wait(backoff)
            backoff = min(backoff * 2, 300)


def _idle_once(conn: imaplib.IMAP4, wait_s: float, stop: Any) -> None:
    """One IDLE: wait until the server announces a change (EXISTS), stop is set, or wait_s passed."""
    import select

    tag = conn._new_tag().decode()
    conn.send(f"{tag} IDLE\r\n".encode())
    conn.readline()  # "+ idling"
    sock = conn.socket()
    deadline = time.monotonic() + wait_s
    while not stop.is_set() and time.monotonic() < deadline:
        # select first: a read that times out would leave imaplib's buffered reader unusable
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            line = conn.readline()
            if not line or b"EXISTS" in line:
                break
    conn.send(b"DONE\r\n")
    while True:  # read to the tagged end of IDLE
        line = conn.readline()
        if not line or line.startswith(tag.encode()):
            break
