"""Any bytes as a note and as a JSONL file for `assist memory add`: chunks of text, or the lines named (a
note that is not text, a NUL byte in its start, is named and gives no chunk)."""

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
        if name == "note.md" and bad:
            assert bad == [f"{path}: not a text file (a PDF, an image, an archive?): left out"] and not found, bad
            assert b"\x00" in data[:8192]
        else:
            assert all(line.startswith(f"{path}: line ") for line in bad), bad


if __name__ == "__main__":
    _common.fuzz(test)
