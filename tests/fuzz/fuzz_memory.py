"""Any bytes as a note and as a JSONL file for `assist memory add`: chunks of text, or the lines named."""

from __future__ import annotations

import tempfile
from pathlib import Path

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist.ai.chunking import OVERLAP, SIZE
    from assist.ai.memory import file_chunks

FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-memory-"))


def test(data: bytes) -> None:
    for name in ("note.md", "facts.jsonl"):
        path = FOLDER / name
        path.write_bytes(data)
        found, bad = file_chunks(path)
        for chunk in found:
            assert chunk.text.strip() and len(chunk.text) <= SIZE + OVERLAP + 2, chunk
            chunk.text.encode("utf-8")  # no lone surrogate reaches the store
            chunk.title.encode("utf-8")
        assert all(line.startswith(f"{path}: line ") for line in bad), bad


if __name__ == "__main__":
    _common.fuzz(test)
