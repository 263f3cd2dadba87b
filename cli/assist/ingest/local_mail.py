"""`assist ingest mbox FILE` and `assist ingest maildir DIR`: mail already on this machine, each message
ingested once across runs (the state remembers which).

What the state remembers does not grow for ever: a message missing from two listings in a row (deleted,
moved to another folder, an mbox compacted) is forgotten (`forget_gone`). Once is not enough: a mail
program renaming a Maildir file while the folder is listed can hide it from that listing, and a message
read again would be a new task. One that comes back after that is read as new, as a mail moved back into
an IMAP folder is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mailbox
import os
import re
import stat
import time
from pathlib import Path

from ..alerts import OwnAlerts
from ..errors import UsageError
from ..jsonl import writable
from .events import FIRST_BACKLOG_S, Read, Sink, State, accepted_only, event, from_the_backlog, safe_name
from .mail import mail_data, read_start

BATCH = 200


def forget_gone(known: list[set[str]], present: set[str], gone_before: list[str]) -> set[str]:
    """Drop from each set of `known` what was missing from the last listing (`gone_before`) and is missing
    from this one (`present`) too; returns what is missing for the first time, for the state to keep."""
    missing = set().union(*known) - present
    for keys in known:
        keys.difference_update(missing.intersection(gone_before))
    return missing.difference(gone_before)


def _maildir_state(seen: set[str], left: set[str], gone: set[str]) -> dict[str, list[str]]:
    out = {"seen": sorted(seen)}
    out |= {"left": sorted(left)} if left else {}
    return out | ({"gone": sorted(gone)} if gone else {})


def ingest_maildir(folder: Path, sink: Sink, home: Path, backlog_s: float | None = None) -> tuple[Read, list[str]]:
    """Messages in a Maildir's new/ and cur/ not seen before (by their unique file name key): (what was
    read, what could not be, each as "new/NAME: why"; tried again on the next run). The first run reads
    what arrived (the file's time) in the last `backlog_s` (a day; math.inf: all) and leaves the rest alone
    (the state's `left`); a later run given `backlog_s` reads those left that arrived within it."""
    if not (folder / "cur").is_dir() and not (folder / "new").is_dir():
        raise UsageError(f"{folder}: not a Maildir (no cur/ or new/ folder)")
    state = State(home, f"maildir-{safe_name(str(folder.resolve()))}")
    saved = state.load()
    seen, left = set(saved.get("seen", [])), set(saved.get("left", []))
    # a key is a file's name, kept in the state as text (writable: a name that is not UTF-8 made so)
    found = maildir_files(folder)
    gone = forget_gone([seen, left], {writable(k) for k in found}, saved.get("gone", []))
    keys = sorted(k for k in found if writable(k) not in seen and writable(k) not in left)
    done = Read()
    first_run = not saved
    if not saved or (backlog_s is not None and left):
        done.before = time.time() - (FIRST_BACKLOG_S if backlog_s is None else backlog_s)
        if not saved:  # the first run: what arrived before is left alone
            older = {k for k in keys if _arrived(folder / found[k]) < done.before}
            keys = [k for k in keys if k not in older]
            left = {writable(k) for k in older}
            done.left = len(older)
            state.save(_maildir_state(seen, left, gone))
        else:  # the ones left alone, as far back as asked
            keys = sorted({*keys, *(k for k in found if writable(k) in left
                                    and _arrived(folder / found[k]) >= done.before)})
    # of the mail there at the first run, what arrived before that run's day: read after new mail
    day_ago = time.time() - FIRST_BACKLOG_S
    old = {k for k in keys if (first_run or writable(k) in left) and _arrived(folder / found[k]) < day_ago} \
        if backlog_s is not None else set()
    count, unreadable = 0, []
    own_alerts = OwnAlerts(home)
    with accepted_only(state, sink):
        for start in range(0, len(keys), BATCH):
            events, read = [], []
            for key in keys[start: start + BATCH]:
                try:
                    message = _read_file(folder / found[key])
                except FileNotFoundError:  # moved or deleted by a mail program since the listing: next run
                    if not os.path.lexists(folder / found[key]):
                        continue
                    unreadable.append(f"{writable(found[key])}: cannot be read (a link to nothing)")
                    continue
                except OSError as exc:
                    unreadable.append(f"{writable(found[key])}: cannot be read ({exc.strerror or exc})")
                    continue
                doc = _event(sink, f"maildir://{folder.resolve()}/{key}", *message)
                read.append(key)
                if own_alerts.holds(doc):
                    done.alerts += 1
                    continue
                events.append(from_the_backlog(doc) if key in old else doc)
                done.backlog += key in old
            sink.send(events)
            seen.update(writable(read))
            left.difference_update(writable(read))
            state.save(_maildir_state(seen, left, gone))
            count += len(events)
        final = _maildir_state(seen, left, gone)
        if saved and final != saved:  # what went, though nothing came
            state.save(final)
    done.sent = count
    return done, unreadable


def _arrived(path: Path) -> float:
    """When a Maildir file arrived (its time; a mail program's renames keep it); one that went is new."""
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def maildir_files(folder: Path) -> dict[str, str]:
    """{key: "new/NAME" or "cur/NAME"} of a Maildir's messages: a key is a file's name up to its ":"
    (the flags a mail program adds, "NAME:2,S"); names starting with a dot and folders are not messages."""
    found = {}
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(folder / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if not entry.name.startswith(".") and not entry.is_dir():
                found[entry.name.split(":")[0]] = f"{sub}/{entry.name}"
    return found


def _read_file(path: Path) -> tuple[bytes, int]:
    """A message file's bytes up to the cap and its size; a named pipe or a device is refused, not
    waited on (opened without blocking, then checked)."""
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a file")
        return read_start(file)


def _read(box: mailbox.Mailbox, key: str) -> tuple[bytes, int]:
    """A message's bytes up to the cap and its whole size (ingest/mail.py MAX_MESSAGE_BYTES)."""
    with box.get_file(key) as file:
        return read_start(file)


def _event(sink: Sink, source: str, raw: bytes, size: int, key: str | None = None) -> dict:
    return event("email.received", source, mail_data(raw, sink.config, size), key=key or source)


def ingest_mbox(path: Path, sink: Sink, home: Path) -> Read:
    """Messages of an mbox file not seen before (by a digest of their bytes, so appends are picked up).
    An archive is read whole: a message delivered over a day before it is read is the backlog
    (events.from_the_backlog), as `--backlog` reads it from a Maildir or IMAP."""
    if not path.is_file():  # a named pipe is refused, not waited on
        raise UsageError(f"{path}: no such mbox file" if not path.exists() else f"{path}: not an mbox file")
    box = mailbox.mbox(str(path), create=False)
    if not box.keys() and path.stat().st_size:  # Thunderbird's index beside an mbox, any other file
        raise UsageError(f"{path}: not an mbox file (no line in it starts a message: \"From \")")
    state = State(home, f"mbox-{safe_name(str(path.resolve()))}")
    saved = state.load()
    seen = set(saved.get("seen", []))
    present: set[str] = set()
    pending: list[tuple[str, dict]] = []
    done, day_ago = Read(), time.time() - FIRST_BACKLOG_S
    own_alerts = OwnAlerts(home)
    with accepted_only(state, sink):
        for key in box.keys():  # noqa: SIM118 - iterating a mailbox gives messages
            raw, size = _read(box, key)
            digest = hashlib.sha256(raw if size == len(raw) else raw + b"%d" % size).hexdigest()[:32]
            present.add(digest)
            if digest in seen:
                continue
            doc = _event(sink, f"mbox://{path.resolve()}#{key}", raw, size, f"mbox:{path.resolve()}:{digest}")
            if own_alerts.holds(doc):
                done.alerts += 1
                seen.add(digest)  # kept with the next batch's
                continue
            if _delivered(box, key) < day_ago:
                done.backlog += 1
                from_the_backlog(doc)
            pending.append((digest, doc))
            if len(pending) >= BATCH:
                done.sent += _flush(pending, seen, sink, state)
        done.sent += _flush(pending, seen, sink, state)
        gone = forget_gone([seen], present, saved.get("gone", []))
        final = {"seen": sorted(seen)} | ({"gone": sorted(gone)} if gone else {})
        if final != saved:
            state.save(final)
    return done


_FROM_LINE_DATE = re.compile(r"\b([A-Z][a-z]{2}) +(\d{1,2}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: +\S+)? +(\d{4})\s*$")


def _delivered(box: mailbox.mbox, key: str) -> float:
    """When an mbox message was delivered: the date of its From_ line, which the delivery agent writes
    (`From ana@example.org Thu Nov 26 08:15:00 2026`, in local time as most do; a day's cut-off does not
    mind a zone's hours); now when it has none (its Date header is the sender's to write)."""
    with box.get_file(key, from_=True) as file:
        line = file.readline(200).decode("ascii", "replace").strip()
    found = _FROM_LINE_DATE.search(line)
    if found:
        month, day, hour, minute, second, year = found.groups()
        with contextlib.suppress(ValueError):
            return time.mktime(time.strptime(f"{year} {month} {day} {hour}:{minute}:{second or 0}",
                                             "%Y %b %d %H:%M:%S"))
    return time.time()


def _flush(pending: list, seen: set, sink: Sink, state: State) -> int:
    if not pending:
        return 0
    sink.send([e for _, e in pending])
    seen.update(d for d, _ in pending)
    state.save({"seen": sorted(seen)})
    n = len(pending)
    pending.clear()
    return n
