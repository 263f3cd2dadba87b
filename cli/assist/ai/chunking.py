"""Cutting documents into overlapping chunks for the context store."""

from __future__ import annotations

import re
from collections.abc import Iterator

SIZE = 800  # characters per chunk: well inside MiniLM's 256 word pieces
OVERLAP = 120  # characters repeated from the end of the previous chunk


def chunks(text: str, size: int = SIZE, overlap: int = OVERLAP) -> Iterator[str]:
    """Paragraph-aware windows: paragraphs are packed into chunks of about `size` characters, a paragraph
    longer than that is cut at word boundaries, and each chunk starts with the end of the one before."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        start = 0  # cut by position: a paragraph of megabytes is read once, not copied for each piece
        while len(paragraph) - start > size:
            cut = paragraph.rfind(" ", start, start + size)
            cut = cut if cut > start + size // 2 else start + size
            pieces.append(paragraph[start:cut].strip())
            start = cut
            while start < len(paragraph) and paragraph[start].isspace():
                start += 1
        pieces.append(paragraph[start:])
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) + 2 > size:
            yield current
            tail = current[-overlap:]
            space = tail.find(" ")
            current = (tail[space + 1:] if space >= 0 else tail) + "\n\n" + piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        yield current


def title_of(text: str, fallback: str) -> str:
    """A Markdown document's first heading, else the fallback (its file name)."""
    for line in text.splitlines()[:20]:
        if line.startswith("#"):
            return line.lstrip("#").strip() or fallback
    return fallback
