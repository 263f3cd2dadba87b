"""Any text as an HTML mail body: html_to_text gives text."""

from __future__ import annotations

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist.ingest.html_text import html_to_text


def test(data: bytes) -> None:
    assert isinstance(html_to_text(data.decode("utf-8", "replace")), str)


if __name__ == "__main__":
    _common.fuzz(test)
