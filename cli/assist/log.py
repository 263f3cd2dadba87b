"""One JSON-lines log per component under $ASSIST_HOME/logs/, rotated by size.

Records hold ids, types, timings and errors, never message bodies or secrets (docs/design.md,
principles). Many processes may append to the same file: each record is one O_APPEND write, and rotation
happens under a file lock, after which every writer reopens the new file.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .timeutil import rfc3339

if TYPE_CHECKING:
    from .config import Config

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class ComponentLog:
    def __init__(self, folder: Path, component: str, *, level: str = "info", max_bytes: int = 5_000_000,
                 backups: int = 3, echo: bool = False):
        self.path = folder / f"{component}.jsonl"
        self.component = component
        self.level = LEVELS[level]
        self.max_bytes = max_bytes
        self.backups = backups
        self.echo = echo
        self._fd: int | None = None
        self._ino = -1
        self._mutex = threading.Lock()
        self._lost = 0  # records not written since a write failed (a full disk): said once, counted
        self._torn = False  # the last record was written in part: the next starts on a line of its own

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._ino = os.fstat(self._fd).st_ino
        self._torn = False  # a part written before is in the file it was written to

    def _rotate_if_needed(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._open()
            return
        if st.st_ino != self._ino:
            self._open()  # someone else rotated
            st = os.fstat(self._fd)  # type: ignore[arg-type]
        if st.st_size < self.max_bytes:
            return
        from filelock import FileLock

        with FileLock(str(self.path) + ".lock"):
            if os.stat(self.path).st_size >= self.max_bytes:
                for n in range(self.backups - 1, 0, -1):
                    older = self.path.with_name(f"{self.path.name}.{n}")
                    if older.exists():
                        os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
                if self.backups:
                    os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
                else:
                    os.truncate(self.path, 0)
        self._open()

    def write(self, level: str, event: str, **fields: Any) -> None:
        if LEVELS[level] < self.level:
            return
        record = {"at": rfc3339(), "level": level, "component": self.component, "event": event,
                  "pid": os.getpid()}
        record.update({k: v for k, v in fields.items() if v is not None})
        line = orjson.dumps(record, default=str) + b"\n"
        with self._mutex:
            try:
                if self._fd is None:
                    self._open()
                self._rotate_if_needed()
                if self._lost:  # the gap is in the log, before what comes after it
                    gap = {"at": record["at"], "level": "warning", "component": self.component,
                           "event": "log_records_lost", "pid": record["pid"], "lost": self._lost}
                    self._put(orjson.dumps(gap) + b"\n")
                    sys.stderr.write(f"assist: log {self.path} written again; {self._lost} records lost\n")
                    self._lost = 0
                self._put(line)
            except OSError as exc:  # a full disk must not stop the work, nor fill stderr: said once, counted
                if not self._lost:
                    sys.stderr.write(f"assist: cannot write log {self.path}: {exc.strerror}\n")
                self._lost += 1
        if self.echo and LEVELS[level] >= LEVELS["warning"]:
            from .printable import printable

            sys.stderr.write(printable(f"assist {self.component}: {level}: {event}"
                                       + "".join(f" {k}={v}" for k, v in fields.items() if v is not None)) + "\n")

    def _put(self, line: bytes) -> None:
        """One record, one write; a disk that fills during it writes a part (OSError, and the next record
        starts on a new line so that part does not take it with it)."""
        data = b"\n" * self._torn + line
        written = os.write(self._fd, data)  # type: ignore[arg-type]
        self._torn = written < len(data)
        if self._torn:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def debug(self, event: str, **fields: Any) -> None:
        self.write("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.write("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.write("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.write("error", event, **fields)


def for_component(config: Config, component: str, echo: bool = False) -> ComponentLog:
    logs = config.section("logs")
    return ComponentLog(config.home / "logs", component, level=logs["level"], max_bytes=logs["max_bytes"],
                        backups=logs["backups"], echo=echo)


def log_files(folder: Path, component: str | None = None) -> list[Path]:
    """Log files oldest first (rotated backups before the live file), for one component or all."""
    if not folder.is_dir():
        return []
    pattern = f"{component}.jsonl*" if component else "*.jsonl*"
    files = [p for p in folder.glob(pattern) if not p.name.endswith(".lock")]

    def order(p: Path) -> tuple[str, int]:
        stem, _, suffix = p.name.partition(".jsonl")
        return (stem, -int(suffix[1:]) if suffix else 0)

    return sorted(files, key=order)
