"""Enqueue a stream of JSON lines: validate each line, fill in ids and meta, store in batches."""

from __future__ import annotations

from dataclasses import dataclass

from . import jsonl
from . import task as taskmod
from .queue.base import Queue
from .timeutil import now_ms

BATCH = 1000


@dataclass
class EnqueueResult:
    enqueued: int = 0
    bad_lines: int = 0


def enqueue_stream(reader: jsonl.LineReader, queue: Queue, rejects: jsonl.Rejects, *, source: str = "stdin",
                   priority: int | None = None, delay_s: float = 0.0, batch: int = BATCH) -> EnqueueResult:
    """Enqueue every good line; bad ones go to `rejects`. A batch is stored when it is full or when
    no more input is ready, so a slow producer's tasks are not kept waiting."""
    result = EnqueueResult()
    pending: list[taskmod.Task] = []
    settings = queue.settings
    for line in reader:
        value = jsonl.parse_task(line, reader.max)
        if value is None:
            continue
        if isinstance(value, jsonl.BadLine):
            rejects.add(value)
            continue
        not_before = now_ms() + int(delay_s * 1000) if delay_s > 0 else None
        pending.append(taskmod.normalize(value, source=source, priority=priority,
                                         max_attempts=settings.max_attempts, not_before_ms=not_before))
        if len(pending) >= batch or not reader.ready():
            result.enqueued += len(queue.put_many(pending))
            pending = []
    if pending:
        result.enqueued += len(queue.put_many(pending))
    result.bad_lines = rejects.count
    return result
