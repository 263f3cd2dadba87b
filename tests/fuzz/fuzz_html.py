"""Any text as an HTML mail body: html_to_text gives text, and the parser's record of the open elements
stays true to itself (how many hide, how many of each tag, what selectors see, never deeper than
MAX_OPEN); the same text read as a style sheet as well (ingest/stylesheet.py) keeps its budget."""

from __future__ import annotations

import contextlib
from collections import Counter

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist.ingest import stylesheet
    from assist.ingest.html_text import MAX_OPEN, _Text, html_to_text


def test(data: bytes) -> None:
    html = data.decode("utf-8", "replace")
    assert isinstance(html_to_text(html), str)
    parser = _Text(stylesheet.read([html]))
    with contextlib.suppress(Exception):  # as html_to_text goes past it
        parser.feed(html)
    assert len(parser.open) <= MAX_OPEN
    assert parser.hidden == sum(entry[1] for entry in parser.open)
    assert +parser.count == Counter(entry[0] for entry in parser.open)
    if parser.sheet:  # what selectors see, kept only when there is a sheet
        assert [e.tag for e in parser.path] == ["html", "body", *(entry[0] for entry in parser.open)]
    assert parser.sheet.budget >= -1


if __name__ == "__main__":
    _common.fuzz(test)
