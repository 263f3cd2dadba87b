"""`assist ingest stdin`: one event per line of text."""

from __future__ import annotations

from .. import jsonl
from ..task import from_outside, problems
from .events import Sink, event


def ingest_lines(reader: jsonl.LineReader, sink: Sink, kind: str, rejects: jsonl.Rejects) -> int:
    """A JSON object with a "type" is taken as an event (if it is a valid task once the sections stages
    own are dropped: the line is untrusted); any other line becomes {"type": kind, "data": {"text":
    line}}. Bad lines go to `rejects`; events are sent whenever no more input is ready. Returns how many
    events were sent."""
    batch: list = []
    for line in reader:
        if line.too_long:
            rejects.add(jsonl.BadLine(line.number, f"line longer than {reader.max} bytes", b""))
            continue
        try:
            text = line.raw.decode()
        except UnicodeDecodeError:
            rejects.add(jsonl.BadLine(line.number, "not UTF-8 text", line.raw))
            continue
        if not text.strip():
            continue
        value = jsonl.parse(line) if text.lstrip().startswith("{") else None
        if isinstance(value, dict) and "type" in value:
            doc = from_outside(value, source="stdin")
            found = problems(doc)
            if found:
                rejects.add(jsonl.BadLine(line.number, "not a task: " + "; ".join(found[:3]), line.raw))
                continue
            batch.append(doc)
        else:
            batch.append(event(kind, "stdin", {"text": text}))
        if not reader.ready():
            sink.send(batch)
            batch = []
    sink.send(batch)
    return sink.count
