"""JSON-lines input and output with orjson.

The reader works on the raw file descriptor so that an over-long line is skipped without being held in
memory, every line keeps its number for error messages, and callers can ask whether more input is ready
now (to close a batch instead of waiting on a slow producer).
"""

from __future__ import annotations

import os
import re
import select
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from .fileutil import append_lines
from .printable import BIDI_CONTROLS, printable

SURROGATE = re.compile("[\ud800-\udfff]")
# what JSON may carry raw that a terminal can act on, a person reading --json output or `assist logs
# --json`: C1 controls (U+009B starts an escape sequence on some terminals), direction controls, line and
# paragraph separators. Written as \u escapes: the same JSON to any reader.
_TERMINAL_UNSAFE = re.compile("[" + "".join(sorted(
    {chr(n) for n in range(0x80, 0xA0)} | BIDI_CONTROLS | {"\u2028", "\u2029"})) + "]")

DEFAULT_MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 16
# orjson reads 1,024 levels of nesting and writes 254: a document between the two passed the reader and
# failed every stage that wrote it out again. No task comes near this.
MAX_DEPTH = 64


class TooDeep(ValueError):
    pass


def loads(raw: bytes | str) -> Any:
    """orjson.loads, and TooDeep for a value nested deeper than MAX_DEPTH (the brackets are counted first,
    in C, so only a text with that many is walked)."""
    value = orjson.loads(raw)
    if isinstance(value, dict | list):
        text = raw.encode() if isinstance(raw, str) else raw
        if text.count(b"{") + text.count(b"[") > MAX_DEPTH and deeper_than(value, MAX_DEPTH):
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels in value (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


@dataclass(slots=True)
class Line:
    number: int
    raw: bytes  # the line without its newline; empty when it was too long (see `too_long`)
    too_long: int = 0  # length in bytes of an over-long line, which was not kept


@dataclass(slots=True)
class BadLine:
    number: int
    reason: str
    raw: bytes


class LineReader:
    """Reads newline-delimited lines from a file descriptor."""

    def __init__(self, fd: int, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES):
        self.fd = fd
        self.max = max_line_bytes
        self._buf = bytearray()
        self._eof = False
        self._number = 0
        self._skipping = 0  # > 0 while discarding the rest of an over-long line

    def ready(self) -> bool:
        """True when the next line can be returned without blocking."""
        if b"\n" in self._buf or self._eof:
            return True
        try:
            readable, _, _ = select.select([self.fd], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _fill(self) -> None:
        chunk = os.read(self.fd, _CHUNK)
        if not chunk:
            self._eof = True
        else:
            self._buf += chunk

    def __iter__(self) -> Iterator[Line]:
        while True:
            line = self.next_line()
            if line is None:
                return
            yield line

    def next_line(self) -> Line | None:
        while True:
            nl = self._buf.find(b"\n")
            if self._skipping:
                if nl < 0:
                    self._skipping += len(self._buf)
                    self._buf.clear()
                    if self._eof:
                        return self._emit_long()
                    self._fill()
                    continue
                self._skipping += nl
                del self._buf[: nl + 1]
                return self._emit_long()
            if nl >= 0:
                if nl > self.max:
                    self._skipping = nl
                    del self._buf[: nl + 1]
                    return self._emit_long()
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                self._number += 1
                return Line(self._number, raw.rstrip(b"\r"))
            if len(self._buf) > self.max:
                self._skipping = len(self._buf)
                self._buf.clear()
                continue
            if self._eof:
                if not self._buf:
                    return None
                raw = bytes(self._buf)
                self._buf.clear()
                self._number += 1
                return Line(self._number, raw.rstrip(b"\r"))
            self._fill()

    def _emit_long(self) -> Line:
        self._number += 1
        size, self._skipping = self._skipping, 0
        return Line(self._number, b"", too_long=size)


def parse(line: Line, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Any | BadLine:
    """The JSON object on a line, or a BadLine saying why not. Blank lines are returned as None."""
    if line.too_long:
        return BadLine(line.number, f"line longer than {max_line_bytes} bytes ({line.too_long} bytes)", b"")
    if not line.raw.strip():
        return None
    try:
        value = loads(line.raw)
    except orjson.JSONDecodeError as exc:
        return BadLine(line.number, f"invalid JSON: {_short(str(exc))}", line.raw)
    except TooDeep as exc:
        return BadLine(line.number, str(exc), line.raw)
    if not isinstance(value, dict):
        return BadLine(line.number, f"expected a JSON object, got {type(value).__name__}", line.raw)
    return value


def parse_task(line: Line, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Any | BadLine:
    """Like `parse`, and the object must also be a task document (the JSON Schema)."""
    value = parse(line, max_line_bytes)
    if isinstance(value, dict):
        from .task import problems

        found = problems(value)
        if found:
            return BadLine(line.number, "not a task: " + "; ".join(found[:3]), line.raw)
    return value


def _short(text: str, limit: int = 120) -> str:
    text = text.splitlines()[0] if text else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def writable(value: Any) -> Any:
    """`value` as JSON lines can carry it. Every string and key valid UTF-8, as JSON must be: Python keeps
    bytes that are not UTF-8 as lone surrogates (a file name, a mail header read with surrogateescape),
    which orjson refuses: one such string stopped a whole batch. They are read as UTF-8 where they are (a
    raw UTF-8 header), U+FFFD where they are not. And every integer within 64 bits, the most orjson
    writes: a larger one (Python's JSON reader makes them) is the float orjson reads it as, null beyond
    a float's range; one such number killed the worker on every run."""
    if isinstance(value, str):
        return value if value.isascii() or _encodes(value) else _repaired(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, dict):
        return {writable(k): writable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [writable(v) for v in value]
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _repaired(text: str) -> str:
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate no byte was escaped to (a JSON "\\ud800"): each one U+FFFD
        return SURROGATE.sub("\ufffd", text)


def dumps(doc: Any) -> bytes:
    """A document as JSON; one with text that is not valid UTF-8 or an integer beyond 64 bits is written
    with it made writable rather than lost: the places that make documents make them so, this is what
    catches the rest."""
    try:
        return orjson.dumps(doc)
    except TypeError:  # "str is not valid UTF-8", "Integer exceeds 64-bit range" (any other comes again)
        return orjson.dumps(writable(doc))


def terminal_safe(data: bytes) -> bytes:
    """JSON with what a terminal could act on (C1 and direction controls, line separators) as \\u
    escapes. Such a character is only ever inside a JSON string, where its escape means the same."""
    if data.isascii():
        return data
    text = data.decode()  # JSON that orjson wrote: UTF-8
    if not _TERMINAL_UNSAFE.search(text):
        return data
    return _TERMINAL_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text).encode()


def write_lines(docs: list[Any], out: IO[bytes] | None = None) -> None:
    """Write documents as JSON lines (terminal_safe) and flush, so a downstream stage sees them at once.
    ReaderGone when the reader of the pipe went away."""
    from .errors import ReaderGone

    out = out or sys.stdout.buffer
    try:
        out.write(terminal_safe(b"".join(dumps(d) + b"\n" for d in docs)))
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        _silence(out)
        raise ReaderGone("the reader of stdout went away") from None


def _silence(out: IO[bytes]) -> None:
    """Point a broken stdout at /dev/null, so the interpreter's last flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class Rejects:
    """Reports bad input lines on stderr and, if asked, keeps them aside in a file (nothing is lost)."""

    def __init__(self, label: str, keep_path: str | None = None):
        self.label = label
        self.count = 0
        self._keep = None
        if keep_path:  # a file: a line a crash cut short there does not take the first one kept with it;
            # or /dev/stderr, a pipe (not seekable: written to as it is)
            regular = not os.path.exists(keep_path) or os.path.isfile(keep_path)
            self._keep = open(keep_path, "a+b" if regular else "ab")  # noqa: SIM115
            if regular:
                append_lines(self._keep, b"")

    def add(self, bad: BadLine) -> None:
        self.count += 1
        sys.stderr.write(f"{self.label}: line {bad.number}: {printable(bad.reason)}\n")
        if self._keep is not None:
            self._keep.write(bad.raw + b"\n")
            self._keep.flush()

    def note(self, number: int, what: str) -> None:
        """Say something about a line that is not an error (it does not count as a bad line)."""
        sys.stderr.write(f"{self.label}: line {number}: {printable(what)}\n")

    def name(self, number: int, reason: str) -> None:
        """Report a line that parsed but cannot be worked on (its task goes on, held for a person)."""
        self.count += 1
        sys.stderr.write(f"{self.label}: line {number}: {printable(reason)}\n")

    def close(self) -> None:
        if self._keep is not None:
            self._keep.close()
