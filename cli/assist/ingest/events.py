"""Where ingested events go: stdout as JSON lines, or durably into a queue. And the small state files
that let sources ingest each thing once across runs.

A source moves its state past an event only once the event is accepted: stored in the queue, or taken
by the reader of stdout. When the reader goes away (its process failed: a full disk, say), a source
cannot tell which of the lines it wrote were stored, so it puts its state back where the run began and
stops (exit 75): the next run sends those events again, with the same ids (`stable_id`), and a queue
keeps one of each. At the end of a run that wrote to a pipe, the source waits until the reader has
taken every line, and a moment more (PIPE_GRACE_S) in which a reader that fails to store the last of
them is seen to go; only then is the run's state kept.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import jsonl
from ..errors import ReaderGone
from ..fileutil import set_aside, write_atomic
from ..task import Task, normalize, stable_id

if TYPE_CHECKING:
    from ..config import Config


def event(kind: str, source: str, data: dict[str, Any], key: str | None = None) -> Task:
    """An event; `key` (what identifies it at its source) makes its id stable across runs. Text that is
    not UTF-8 (a file's name, a header's bytes) is made so (jsonl.writable): no event is lost to it."""
    kind, source, data, key = jsonl.writable([kind, source, data, key])
    doc: Task = {"type": kind, "source": source, "data": data}
    if key is not None:
        from ..timeutil import parse_rfc3339

        try:
            ms = parse_rfc3339(data["date"]) if data.get("date") else 0
        except ValueError:
            ms = 0
        doc["id"] = stable_id(key, ms)
    return normalize(doc, source=source)


PIPE_GRACE_S = 1.0


class Sink:
    """Sends events on. With a queue, `send` returns only once they are on disk (or in Redis)."""

    def __init__(self, config: Config, queue: str | None):
        self.config = config
        self.queue = None
        self.count = 0
        self._log: Any = None
        if queue:
            self.queue = config.backend().queue(queue)

    def send(self, events: list[Task]) -> None:
        if not events:
            return
        for doc in events:
            if doc.get("meta", {}).get("dropped"):
                self.log.warning("untrusted_sections_dropped", task=doc["id"], type=doc.get("type"),
                                 source=doc.get("source"), dropped=doc["meta"]["dropped"])
        if self.queue is not None:
            self.queue.put_many(events)
        else:
            try:
                jsonl.write_lines(events)
            except ReaderGone:
                raise ReaderGone(f"the reader of stdout went away after {self.count} event(s); this run's "
                                 "events are sent again next time") from None
        self.count += len(events)


    def confirm(self, grace_s: float = PIPE_GRACE_S) -> None:
        """Writing to a pipe: return once the reader has taken every line and has not gone away within
        grace_s after; ReaderGone if it went away first."""
        if self.queue is not None or not self.count:
            return
        import fcntl
        import os
        import select
        import stat
        import struct
        import sys
        import termios
        import time

        try:
            fd = sys.stdout.fileno()
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return  # a file or a terminal: what was written is there
        except (OSError, ValueError):
            return
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR and POLLHUP are reported whatever is asked
        gone = ReaderGone(f"the reader of stdout went away before it had stored the {self.count} event(s) "
                          "sent; this run's events are sent again next time")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if poller.poll(50):
                raise gone
            unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            if unread == 0:
                break
        if poller.poll(int(grace_s * 1000)):
            raise gone

    @property
    def log(self) -> Any:
        if self._log is None:
            from .. import log

            self._log = log.for_component(self.config, "ingest")
        return self._log


@contextlib.contextmanager
def accepted_only(state: State, sink: Sink) -> Iterator[None]:
    """Writing to stdout, put the state back where the run began if the reader goes away: which of the
    events written since it read is unknown, so all are sent again (a queue keeps one of each)."""
    before = state.load()
    try:
        yield
        sink.confirm()
    except ReaderGone:
        if sink.queue is None:
            state.save(before)
        raise


class State:
    """A small JSON document under $ASSIST_HOME/state/, replaced atomically."""

    def __init__(self, home: Path, name: str):
        self.path = home / "state" / f"{name}.json"

    def load(self) -> dict[str, Any]:
        """What was saved; {} when nothing was. A damaged document (a disk that failed, a hand edit) is
        kept aside as NAME.json.damaged and read as none, said on stderr: the source is read again as on
        its first run, rather than not at all until someone finds the file."""
        import orjson

        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            why = str(exc).split(":")[0]
        else:
            if isinstance(value, dict):
                return value
            why = "not a JSON object"
        aside = set_aside(self.path)
        if aside is not None:  # else another run set it aside first, and said so
            sys.stderr.write(f"assist: {self.path}: damaged ({why}); kept as {aside.name}, and the source "
                             "read as on its first run\n")
        return {}

    def save(self, value: dict[str, Any]) -> None:
        import orjson

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, orjson.dumps(value), mode=0o600)


FIRST_BACKLOG_S = 86400.0  # what the first run of a mail source reads: the last day's mail
BACKLOG_PRIORITY = 8  # mail read with --backlog is served after new mail (priority 5)


def from_the_backlog(doc: Task) -> Task:
    """Mark a mail read with `--backlog` that arrived before the first run's day: `data.backlog` keeps
    the shipped urgent rules off it (no flag or reply for last month's "URGENT"), and its priority puts
    it behind new mail in the queue (weeks of mail take hours of a model's time)."""
    doc["data"]["backlog"] = True
    doc["priority"] = BACKLOG_PRIORITY
    return doc


@dataclass
class Read:
    """What a run of a mail source did: how many messages it sent on (`backlog` of them from the
    backlog), and how many older ones a first run left alone (those that arrived before `before`), which
    a later run given a backlog reads."""
    sent: int = 0
    left: int = 0
    before: float = 0.0
    backlog: int = 0
    alerts: int = 0  # assist's own alert mails (alerts.OwnAlerts), left to the person

    def left_alone(self) -> str:
        import time

        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.before))
        return (f"left {self.left} older message(s) alone (arrived before {when}); `--backlog 30d` reads "
                "those of the last 30 days, `--backlog all` every one")

    def said(self) -> list[str]:
        """What the run tells the person besides how many it sent, a line each."""
        out = [self.from_the_backlog()] if self.backlog else []
        out += [f"{self.alerts} of assist's own alerts left for you to read (not taken as new mail)"] \
            if self.alerts else []
        return out + ([self.left_alone()] if self.left else [])

    def from_the_backlog(self) -> str:
        return (f"{self.backlog} of them from the backlog (over a day old): served after new mail; the urgent "
                "rules do not flag or answer them")


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)[:100]
