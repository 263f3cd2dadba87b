"""Atomic file replacement: write a temporary file beside the target, then rename it over the target.
The temporary name carries the process and thread, so workers in one process never share one. And
appending whole lines to a file whose last line a crash may have cut short."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Replace `path` with `data`: readers see the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "wb") as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def append_lines(handle: BinaryIO, data: bytes) -> None:
    """Append `data`, whole lines, to a file open with "a+b" (under the caller's lock), synced. When the
    file's last line was cut short (a crash, a full disk), `data` starts on a line of its own: else that
    line and the first new one would read as one broken line, and the new one would be lost."""
    torn = False
    if handle.seek(0, os.SEEK_END):
        handle.seek(-1, os.SEEK_END)
        torn = handle.read(1) != b"\n"
    handle.write(b"\n" * torn + data)
    handle.flush()
    os.fsync(handle.fileno())
