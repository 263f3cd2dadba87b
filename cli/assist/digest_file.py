"""A set of SHA-256 digests, one per line of a file under state/: appended under a lock (a line a crash
cut short is not read as one), read again whenever the file changes (act writes while a worker
classifies in another process). With `keep`, only the newest `keep` are kept: the file is cut back to
them once it holds twice as many. Used by correspondents.py (whom a person wrote to) and junked.py
(mail assist filed in Junk).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .fileutil import append_lines, write_atomic

DIGEST = re.compile(r"[0-9a-f]{64}")  # a line holds one; nothing else is written (a data.sha256 can be anything)


class DigestFile:
    def __init__(self, path: Path, keep: int | None = None):
        self.path = path
        self.keep = keep
        self._seen: tuple[int, int] | None = None
        self._known: frozenset[str] = frozenset()

    def add(self, digests: Iterable[str]) -> None:
        """Append the digests not kept yet (OSError when the file cannot be written)."""
        from filelock import FileLock

        new = [d for d in dict.fromkeys(digests) if DIGEST.fullmatch(d) and d not in self.known()]
        if not new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"), open(self.path, "a+b") as handle:
            append_lines(handle, "".join(d + "\n" for d in new).encode())
            if self.keep is not None and handle.tell() > 2 * self.keep * 65:
                handle.seek(0)
                lines = [line for line in handle.read().split(b"\n") if len(line) == 64]
                write_atomic(self.path, b"".join(line + b"\n" for line in lines[-self.keep:]))

    def known(self) -> frozenset[str]:
        """The digests kept; none when the file is missing or unreadable."""
        try:
            st = self.path.stat()
            if self._seen != (st.st_mtime_ns, st.st_size):
                lines = self.path.read_text(encoding="ascii", errors="replace").split("\n")
                self._known = frozenset(line for line in lines if len(line) == 64)  # not a line a crash cut short
                self._seen = (st.st_mtime_ns, st.st_size)
        except OSError:
            self._seen, self._known = None, frozenset()
        return self._known
