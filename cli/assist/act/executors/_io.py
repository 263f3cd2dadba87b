"""Small file helpers shared by the executors that write files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import fileutil


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fileutil.write_atomic(path, data)


def one_at_a_time(ctx: Any, name: str) -> Any:
    """A lock (filelock) for changing one kind of file in place, shared by every worker of the home:
    workers act on several tasks at once, and a file read, changed and written back by two at once keeps
    one change."""
    from filelock import FileLock

    folder = ctx.config.home / "state"
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / f"{name}.lock"))
