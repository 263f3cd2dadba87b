"""A long-running worker (`--follow`) notices an edit of assist.toml: when the file has changed and
stayed the same for a second (an editor's save is done) and it is valid, the worker finishes the batches
in hand and starts again with it (the same command, the same process id); when it is not valid, that
is said once and the worker goes on with the configuration it started with."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..home import CONFIG_NAME

SETTLE_S = 1.0  # how long the file must stay the same before it is read (a save in several writes)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ConfigWatch:
    def __init__(self, home: Path, log: Any, command: str):
        self.home = home
        self.path = home / CONFIG_NAME
        self.log = log
        self.command = command
        self._seen = _stamp(self.path)  # what the worker started with
        self._pending: tuple[Any, float] | None = None  # a new stamp, and since when
        self._refused: Any = None  # a changed file that was not valid: said once
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def changed(self) -> bool:
        """True once the file has changed, settled and is valid (at most one look a second)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < SETTLE_S / 2:
                return False
            self._checked = now
            stamp = _stamp(self.path)
            if stamp == self._seen or stamp == self._refused:
                self._pending = None
                return False
            if self._pending is None or self._pending[0] != stamp:
                self._pending = (stamp, now)
                return False
            if now - self._pending[1] < SETTLE_S:
                return False
            problems = self._problems()
            if problems:
                self._refused = stamp
                self.log.warning("config_not_taken", problems=problems[:5])
                from ..printable import printable

                sys.stderr.write(printable(f"assist {self.command}: {self.path} changed but cannot be used "
                                           f"({'; '.join(problems[:3])}); going on with the one it started with")
                                 + "\n")
                return False
            self.log.info("config_changed")
            return True

    def _problems(self) -> list[str]:
        from ..config_file import load
        from ..errors import ConfigError

        try:
            load(self.home)
        except ConfigError as exc:
            return list(exc.problems)
        return []


def start_again(command: str) -> None:
    """Replace this process with the same command (it reads the new assist.toml as it starts)."""
    sys.stderr.write(f"assist {command}: {CONFIG_NAME} changed: starting again with it\n")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
