"""`assist ingest imap`: new messages of an IMAP folder, each ingested once across runs.

The state (`state/imap-<account>.json`) keeps the folder's UIDVALIDITY and the highest UID ingested. A
batch of messages is sent on (durably, with --to) before the state moves past it, so a crash can repeat
a message but never skip one. If the server's UIDVALIDITY changes (the folder was rebuilt), the folder
is read again from the start, as IMAP requires.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import time
from typing import TYPE_CHECKING, Any

from ..errors import AssistError, Unavailable
from ..mail import ImapAccount, imap_folder
from ..mail import imap_connect as connect
from . import mail as message
from .events import Sink, State, accepted_only, event

if TYPE_CHECKING:
    from ..config import Config

BATCH = 50


def _select(conn: imaplib.IMAP4, folder: str) -> int:
    status, _ = conn.select(imap_folder(folder), readonly=True)
    if status != "OK":
        raise AssistError(f"imap: no folder {folder!r}")
    status, data = conn.response("UIDVALIDITY")
    return int(data[0]) if data and data[0] else 0


def poll(account: ImapAccount, sink: Sink, state: State, conn: imaplib.IMAP4 | None = None) -> int:
    """Ingest every message newer than the state; returns how many were sent."""
    own = conn is None
    conn = conn or connect(account)
    try:
        uidvalidity = _select(conn, account.folder)
        saved = state.load()
        last = saved.get("last_uid", 0) if saved.get("uidvalidity") == uidvalidity else 0
        _status, data = conn.uid("SEARCH", f"UID {last + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)
        sent = 0
        with accepted_only(state, sink):
            for start in range(0, len(uids), BATCH):
                chunk = uids[start: start + BATCH]
                events = [_fetch(conn, account, uid, uidvalidity, sink.config) for uid in chunk]
                sink.send([e for e in events if e is not None])
                state.save({"uidvalidity": uidvalidity, "last_uid": chunk[-1], "at": time.time()})
                sent += len(chunk)
        return sent
    finally:
        if own:
            _logout(conn)


def _fetch(conn: imaplib.IMAP4, account: ImapAccount, uid: int, uidvalidity: int,
           config: Config) -> dict[str, Any] | None:
    # the message's size, and its bytes up to the cap (a partial fetch): a huge one is read from its start
    status, data = conn.uid("FETCH", str(uid), f"(RFC822.SIZE BODY.PEEK[]<0.{message.MAX_MESSAGE_BYTES}>)")
    part = next((part for part in data if isinstance(part, tuple)), None)
    if status != "OK" or part is None:
        return None  # expunged since the search
    size = re.search(rb"RFC822\.SIZE (\d+)", part[0])
    source = f"imap://{account.user}@{account.host}/{account.folder};UIDVALIDITY={uidvalidity}/;UID={uid}"
    doc = event("email.received", source, message.mail_data(part[1], config, int(size.group(1)) if size else None),
                key=source)
    doc["data"]["imap"] = {"folder": account.folder, "uid": uid, "uidvalidity": uidvalidity}
    return doc


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def idle(account: ImapAccount, sink: Sink, state: State, stop: Any, wait_s: float = 25 * 60) -> None:
    """Poll, then wait with IMAP IDLE (RFC 2177) for the server to announce new mail; again until stop."""
    backoff = 1.0
    while not stop.is_set():
        try:
            conn = connect(account)
            backoff = 1.0
            while not stop.is_set():
                poll(account, sink, state, conn)
                _idle_once(conn, min(wait_s, 29 * 60), stop)
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
