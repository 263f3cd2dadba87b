"""Reading the JSON-lines logs back for `assist logs`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from .log import LEVELS, log_files

_SKIP = ("at", "level", "component", "event")


def _record(raw: bytes) -> dict[str, Any] | None:
    """One line as a record: a JSON object, its at, level, component and event as text; anything else
    (a line cut by a crash, not JSON) is None. What reads records (the dashboard, alerts) can rely on it."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    for name in _SKIP:
        if name in record and not isinstance(record[name], str):
            record[name] = orjson.dumps(record[name]).decode()
    return record


def _keep(record: dict[str, Any], level: str) -> bool:
    return LEVELS.get(record.get("level", "info"), 20) >= LEVELS[level]


def read_records(folder: Path, component: str | None, level: str) -> list[tuple[dict[str, Any], str]]:
    """All records of the chosen component(s) at or above `level`, oldest first."""
    out = []
    for path in log_files(folder, component):
        with path.open("rb") as handle:
            out += _records(handle, level)
    out.sort(key=lambda r: r[0].get("at", ""))
    return out


def _records(lines: Any, level: str) -> list[tuple[dict[str, Any], str]]:
    """(record, line) for each JSON line at or above `level`; lines that are not records are passed over."""
    out = []
    for raw in lines:
        record = _record(raw)
        if record is not None and _keep(record, level):
            out.append((record, raw.decode().rstrip("\n")))
    return out


def recent_records(folder: Path, component: str | None, level: str, limit: int = 50,
                   window_bytes: int = 512 * 1024) -> list[dict[str, Any]]:
    """The latest `limit` records at or above `level`, newest last, reading only the end of each live
    file (a dashboard asks often; the full history is `assist logs`)."""
    out = []
    for path in log_files(folder, component):
        if ".jsonl." in path.name:
            continue
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - window_bytes))
            if size > window_bytes:
                handle.readline()  # a partial line
            out += [record for record, _ in _records(handle, level)]
    out.sort(key=lambda r: r.get("at", ""))
    return out[-limit:]


class LogTail:
    """The records appended since the last look (across rotation), without blocking."""

    def __init__(self, folder: Path, component: str | None, level: str, from_start: bool = False):
        self.folder, self.component, self.level = folder, component, level
        self.offsets: dict[Path, tuple[int, int]] = {}
        if not from_start:
            for path in self._live():
                st = path.stat()
                self.offsets[path] = (st.st_ino, st.st_size)

    def _live(self) -> list[Path]:
        return [p for p in log_files(self.folder, self.component) if ".jsonl." not in p.name]

    def read_new(self) -> list[tuple[dict[str, Any], str]]:
        out = []
        for path in self._live():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            ino, offset = self.offsets.get(path, (st.st_ino, 0))
            if ino != st.st_ino or st.st_size < offset:
                offset = 0  # rotated: read the new file from its start
            if st.st_size > offset:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    for raw in handle:
                        if not raw.endswith(b"\n"):
                            break
                        offset += len(raw)
                        out += _records([raw], self.level)
            self.offsets[path] = (st.st_ino, offset)
        return out


def follow_records(folder: Path, component: str | None, level: str,
                   interval_s: float = 0.5) -> Iterator[tuple[dict[str, Any], str]]:
    """New records as they are appended (across rotation), checking every interval_s."""
    tail = LogTail(folder, component, level)
    while True:
        yield from tail.read_new()
        time.sleep(interval_s)


def format_record(record: dict[str, Any]) -> str:
    """One line for a terminal: an error a record quotes (a server's reply, a header) moves no cursor."""
    from .printable import printable

    extra = " ".join(f"{k}={v}" for k, v in record.items() if k not in _SKIP)
    return printable(f"{record.get('at', '')} {record.get('level', ''):7} {record.get('component', '')}: "
                     f"{record.get('event', '')} {extra}".rstrip())
