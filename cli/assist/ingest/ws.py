"""`assist ingest ws URL`: each message of a WebSocket feed becomes an event; the connection is
re-opened with backoff when it drops.

A text message holding a JSON object with a "type" is taken as an event, without the sections stages own
(the feed is untrusted: it cannot bring an intent, a plan or an approval); another JSON object becomes the
`data` of a `ws.message` event (or --type), and so does one of a type only assist's own sources make
(task.only_assist_makes): a `request` is the person's own words (`assist ask`), answered and acted on as
theirs, an `email.*` event is a mail whose Message-ID the mail actions move and flag, and a `file.*`
event a watched file whose path the file actions move, copy and trash; anything else becomes
{"text": message}.
"""

from __future__ import annotations

import threading
from typing import Any

from .. import jsonl
from ..printable import without_password
from ..task import Task, from_outside, only_assist_makes, problems
from .events import Sink, event


def to_event(message: str | bytes, url: str, kind: str) -> Task | None:
    import orjson

    if isinstance(message, bytes):
        try:
            message = message.decode()
        except UnicodeDecodeError:
            return None
    try:
        value = jsonl.loads(message)
    except (orjson.JSONDecodeError, jsonl.TooDeep):  # kept as text
        value = None
    if isinstance(value, dict) and "type" in value and not only_assist_makes(value):
        doc = from_outside(dict(value), source=url)
        if not problems(doc):
            return doc
    if isinstance(value, dict):
        return event(kind, url, value)
    return event(kind, url, {"text": message})


def follow(url: str, sink: Sink, kind: str, stop: threading.Event, log: Any, count: int | None = None,
           max_backoff_s: float = 60.0) -> int:
    """Read messages until stop is set (or `count` were taken), reconnecting with backoff."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    taken, backoff = 0, 0.5
    shown = without_password(url)  # for the log and errors
    while not stop.is_set() and (count is None or taken < count):
        try:
            with connect(url, open_timeout=10, close_timeout=2) as ws:
                log.info("ws_connected", url=shown)
                backoff = 0.5
                while not stop.is_set() and (count is None or taken < count):
                    try:
                        message = ws.recv(timeout=1.0)
                    except TimeoutError:
                        continue
                    doc = to_event(message, url, kind)
                    if doc is None:
                        log.warning("ws_skipped", url=shown, reason="binary message that is not UTF-8")
                        continue
                    sink.send([doc])
                    taken += 1
        except InvalidURI as exc:
            from ..errors import UsageError

            raise UsageError(f"{shown}: not a WebSocket URL ({exc.msg})") from None
        except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
            log.warning("ws_disconnected", url=shown, error=type(exc).__name__, retry_in_s=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_s)
    return taken
