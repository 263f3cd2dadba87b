"""Enqueue a stream of JSON lines: validate each line, fill in ids and meta, store in batches."""

from __future__ import annotations

from dataclasses import dataclass

from . import jsonl
from . import task as taskmod
from .queue.base import Queue
from .timeutil import now_ms

BATCH = 1000
BATCH_BYTES = 4 << 20  # a batch is also stored once this much input is in it: little is held unstored


@dataclass
class EnqueueResult:
    enqueued: int = 0
    duplicates: int = 0  # tasks whose id the queue held already (the first is kept)
    bad_lines: int = 0
    last_line: int = 0  # the last input line whose task is safe in the queue (or was a duplicate)


class Stopped(Exception):
    """Storing failed (a full disk): `result` says how far it got; the cause is chained."""

    def __init__(self, result: EnqueueResult, first_line: int):
        super().__init__(f"stopped at line {first_line}")
        self.result = result
        self.first_line = first_line  # the first line not stored


def enqueue_stream(reader: jsonl.LineReader, queue: Queue, rejects: jsonl.Rejects, *, source: str = "stdin",
                   priority: int | None = None, delay_s: float = 0.0, batch: int = BATCH) -> EnqueueResult:
    """Enqueue every good line; bad ones go to `rejects`. A batch is stored when it is full or when
    no more input is ready, so a slow producer's tasks are not kept waiting. A put of an id the queue
    holds is skipped and counted as a duplicate. Raises Stopped when the queue cannot store a batch."""
    result = EnqueueResult()
    pending: list[tuple[int, taskmod.Task]] = []
    settings = queue.settings

    held_bytes = 0

    def store() -> None:
        nonlocal held_bytes
        try:
            stored = set(queue.put_many([doc for _, doc in pending]))
            result.enqueued += len(stored)
        except OSError as exc:
            placed = set(getattr(exc, "stored", ()))  # what the queue placed before the disk refused
            result.enqueued += len(placed)
            result.bad_lines = rejects.count
            first = next((n for n, doc in pending if doc["id"] not in placed), pending[0][0])
            result.last_line = max(result.last_line, first - 1)
            raise Stopped(result, first) from exc
        for number, doc in pending:
            if doc["id"] in stored:
                stored.discard(doc["id"])  # this line's task is the one stored; another line with its id is not
                continue
            result.duplicates += 1
            rejects.note(number, f"task {doc['id']} is in queue {queue.name} already; the first is kept")
        result.last_line = pending[-1][0]
        pending.clear()
        held_bytes = 0

    for line in reader:
        value = jsonl.parse_task(line, reader.max)
        if value is None:
            continue
        if isinstance(value, jsonl.BadLine):
            rejects.add(value)
            continue
        not_before = now_ms() + int(delay_s * 1000) if delay_s > 0 else None
        pending.append((line.number, taskmod.normalize(value, source=source, priority=priority,
                                                       max_attempts=settings.max_attempts,
                                                       not_before_ms=not_before)))
        held_bytes += len(line.raw)
        if len(pending) >= batch or held_bytes >= BATCH_BYTES or not reader.ready():
            store()
    if pending:
        store()
    result.bad_lines = rejects.count
    return result
