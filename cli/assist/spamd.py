"""A local spamd (SpamAssassin's daemon) asked about one message, over its own protocol (SPAMC/1.5):
whether it is spam, its score and threshold, and the rules that fired.

`[classify] spamd = "127.0.0.1:783"` turns it on: mail ingestion asks it about each message (it needs
the raw message, which only ingestion has) and keeps the answer in the event's `data.spamd`, where the
spam decision reads it (decide/engine.py). The daemon must be on this machine unless `allow_remote`
(the message goes to it whole). An answer is parsed strictly; anything else is an error, recorded in
place of a verdict, and the mail goes on without one.
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config

MAX_MESSAGE = 512 * 1024  # spamc's own default limit: a bigger message is checked by its start
MAX_REPLY = 64 * 1024
STATUS = re.compile(rb"SPAMD/\d\.\d+ (\d+) (\w+)")
VERDICT = re.compile(rb"Spam: (True|False|Yes|No) ; (-?\d+(?:\.\d+)?) / (-?\d+(?:\.\d+)?)", re.IGNORECASE)
SYMBOL = re.compile(r"[A-Z0-9_]{1,60}")


class SpamdError(Exception):
    pass


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SpamdError(f"spamd address {address!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def answers(address: str, timeout: float = 2.0) -> bool:
    """Whether a spamd answers PING at this address (`assist init` looks for one this way)."""
    try:
        host, port = parse_address(address)
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return bool(re.match(rb"SPAMD/\d\.\d+ 0 PONG\r?\n", sock.recv(100)))
    except (OSError, SpamdError):
        return False


def check(raw: bytes, address: str, config: Config, timeout: float = 30.0) -> dict[str, Any]:
    """{"spam": bool, "score": float, "threshold": float, "rules": [names]} for one message."""
    from .net import require_local

    host, port = parse_address(address)
    require_local(host, config, what="spamd")
    message = raw[:MAX_MESSAGE]
    request = b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(message) + message
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            reply = b""
            while len(reply) < MAX_REPLY:
                chunk = sock.recv(8192)
                if not chunk:
                    break
                reply += chunk
    except OSError as exc:
        raise SpamdError(f"spamd at {address}: {exc.strerror or exc}") from None
    return parse_reply(reply, address)


def parse_reply(reply: bytes, address: str = "spamd") -> dict[str, Any]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = STATUS.fullmatch(lines[0]) if lines else None
    if status is None:
        raise SpamdError(f"{address}: not a spamd answer: {lines[0][:80]!r}" if lines else f"{address}: no answer")
    if status.group(1) != b"0":
        raise SpamdError(f"{address}: spamd said {status.group(1).decode()} {status.group(2).decode()}")
    verdict = next((m for m in (VERDICT.fullmatch(line) for line in lines[1:]) if m), None)
    if verdict is None:
        raise SpamdError(f"{address}: spamd's answer has no Spam: line")
    rules = [name for name in body.decode("ascii", "replace").strip().split(",") if SYMBOL.fullmatch(name)]
    return {"spam": verdict.group(1).lower() in (b"true", b"yes"), "score": float(verdict.group(2)),
            "threshold": float(verdict.group(3)), "rules": rules[:100]}
