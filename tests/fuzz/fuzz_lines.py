"""Any bytes as JSON lines into a stage: each line is a task, a bad line or nothing, and a task writes out."""

from __future__ import annotations

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist import jsonl
    from assist.task import problems


def test(data: bytes) -> None:
    for number, raw in enumerate(data.split(b"\n"), 1):
        got = jsonl.parse_task(jsonl.Line(number, raw))
        if got is None or isinstance(got, jsonl.BadLine):
            continue
        assert problems(got) == [], problems(got)
        jsonl.dumps(got)


if __name__ == "__main__":
    _common.fuzz(test)
