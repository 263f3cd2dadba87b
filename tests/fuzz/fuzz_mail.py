"""Any bytes as a mail: parse_message never raises, and what it gives is a valid, writable event."""

from __future__ import annotations

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist.ingest.mail import parse_message
    from assist.jsonl import dumps
    from assist.task import normalize, problems

import orjson


def test(data: bytes) -> None:
    out = parse_message(data)
    orjson.dumps(out)  # valid as it is, not only once jsonl.dumps has mended it
    doc = normalize({"type": "email.received", "data": out}, source="fuzz:mail")
    assert problems(doc) == [], problems(doc)
    dumps(doc)


if __name__ == "__main__":
    _common.fuzz(test)
