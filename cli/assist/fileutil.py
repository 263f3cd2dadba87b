"""Atomic file replacement: write a temporary file beside the target, then rename it over the target.
The temporary name carries the process and thread, so workers in one process never share one. Writing a
new file that never replaces one. Appending whole lines to a file whose last line a crash may have cut
short. And setting a damaged file aside."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Replace `path` with `data`: readers see the old content or the new, never a part."""
    tmp = _beside(path, "tmp")
    _write(tmp, data, mode, os.O_TRUNC, sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_new(path: Path, data: bytes, *, mode: int = 0o644) -> bool:
    """Write `path` only if nothing is there: False, and nothing touched, when something is (another
    worker's file, or the person's). Readers see no file or all of it: a finished temporary file is
    hard-linked to the name, which never replaces; where the file system has no hard links, the file is
    created exclusively and written in place."""
    tmp = _beside(path, "new")
    try:
        _write(tmp, data, mode, os.O_TRUNC)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if isinstance(exc, FileExistsError):
                return False
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            try:
                _write(path, data, mode, os.O_EXCL)
            except FileExistsError:
                return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def set_aside(path: Path) -> Path | None:
    """A damaged file kept beside itself as NAME.damaged, for a person to look at, out of the way of the
    one made anew; None when another process set it aside first."""
    aside = path.with_name(path.name + ".damaged")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    return aside


def _beside(path: Path, kind: str) -> Path:
    """A temporary name beside `path`, of this process and thread: workers in one process never share one."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{kind}")


def _write(path: Path, data: bytes, mode: int, flags: int, sync: bool = True) -> None:
    """Create `path` (open with flags besides create) and write `data`, synced; a file the disk filled
    during is removed, so no part of one is left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, mode)
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


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
