"""Task ids, the task schema, and the JSON-lines reader."""

from __future__ import annotations

import os

from assist import jsonl
from assist.task import new_id, normalize, problems


def test_ids_are_unique_and_sort_in_creation_order():
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_ids_sort_by_time_across_milliseconds():
    assert new_id(1_000) < new_id(2_000) < new_id(10**12)


def test_schema_accepts_a_full_task_and_names_each_problem():
    doc = normalize({"type": "email.received", "data": {"subject": "hi"}}, source="imap://x")
    doc["intent"] = {"route": "triage", "labels": [{"name": "triage", "score": 0.9}], "by": "rule:x",
                     "confidence": 0.9}
    doc["trace"] = [{"stage": "classify", "at": "2026-11-26T00:00:00.000Z", "ms": 1.0, "ok": True, "error": None}]
    assert problems(doc) == []
    bad = {"type": "Email Received", "priority": 12, "data": [], "meta": {"attempts": -1}}
    found = problems(bad)
    assert len(found) == 4
    assert any(p.startswith("type: ") for p in found)
    assert any(p.startswith("priority: ") for p in found)
    assert any(p.startswith("meta/attempts: ") for p in found)
    assert problems({"data": {}}) == ['(document): "type" is a required property']


def test_reader_numbers_lines_and_skips_over_long_ones_without_keeping_them():
    r, w = os.pipe()
    os.write(w, b'{"a": 1}\n' + b"x" * 5000 + b"\n" + b'{"b": 2}\r\n' + b'{"c": 3}')
    os.close(w)
    reader = jsonl.LineReader(r, max_line_bytes=1024)
    lines = list(reader)
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert lines[1].too_long == 5000 and lines[1].raw == b""
    assert lines[2].raw == b'{"b": 2}' and lines[3].raw == b'{"c": 3}'
    parsed = [jsonl.parse(line, 1024) for line in lines]
    assert parsed[0] == {"a": 1} and isinstance(parsed[1], jsonl.BadLine)
    os.close(r)


def test_reader_handles_a_long_line_at_end_of_input_without_newline():
    r, w = os.pipe()
    os.write(w, b'{"a": 1}\n' + b"y" * 3000)
    os.close(w)
    lines = list(jsonl.LineReader(r, max_line_bytes=1024))
    assert [line.too_long for line in lines] == [0, 3000]
    os.close(r)
