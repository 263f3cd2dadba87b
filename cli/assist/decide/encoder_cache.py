"""The encoder graphs assist makes from a packaged one (int8_matmul's integer products, request_encoder's
tuned weights), kept in `$XDG_CACHE_HOME/assist/encoders/` (by default ~/.cache/assist/encoders/) so that
each is made once. A graph is kept under a stem naming what it was made from, with the sha256 of the
graph beside it: a cached file that does not match is made again."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..fileutil import write_atomic

UNCHANGED = "unchanged"  # recorded instead of a sha256 when making the graph changed nothing


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assist" / "encoders"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kept(stem: str, make: Callable[[], bytes | None], stale: str, what: str) -> Path | bytes | None:
    """The graph cached as STEM.onnx, made by `make()` when it is missing or damaged; None when `make`
    had nothing to change (remembered too). When the cache cannot be written, the graph itself (bytes),
    said once on stderr. Once a new graph is kept, the other files matching the glob `stale` (made by an
    earlier version from the same source) are removed."""
    folder = cache_dir()
    graph, digest_file = folder / f"{stem}.onnx", folder / f"{stem}.sha256"
    try:
        recorded = digest_file.read_text().strip()
    except OSError:
        recorded = None
    if recorded == UNCHANGED:
        return None
    if recorded and graph.is_file() and file_sha256(graph) == recorded:
        return graph
    data = make()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if data is None:
            write_atomic(digest_file, f"{UNCHANGED}\n".encode())
        else:
            write_atomic(graph, data)
            write_atomic(digest_file, hashlib.sha256(data).hexdigest().encode() + b"\n")
    except OSError as exc:
        sys.stderr.write(f"assist: cannot keep {what} in {folder} ({exc.strerror or exc}); "
                         "it is made again in each process\n")
        return data
    for old in folder.glob(stale):
        if not old.name.startswith(f"{stem}."):
            old.unlink(missing_ok=True)
    return graph if data is not None else None
