"""Small file helpers shared by the executors that write files."""

from __future__ import annotations

from pathlib import Path

from ... import fileutil


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fileutil.write_atomic(path, data)
