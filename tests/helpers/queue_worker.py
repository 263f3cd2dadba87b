"""Processes for the backend conformance tests, on either backend (a spool folder or a redis:// URL).

    python queue_worker.py claim-and-exit URL QUEUE [LEASE_SECONDS]
    python queue_worker.py produce URL QUEUE START COUNT [ACKED_IDS_FILE]
    python queue_worker.py consume URL QUEUE LOGFILE STOPFILE [WORK_SECONDS]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from assist.queue.settings import QueueSettings
from assist.task import normalize

SETTINGS = QueueSettings(lease_s=120, backoff_base_s=0.01, backoff_max_s=0.05, max_attempts=50)


def backend(url: str, settings: QueueSettings = SETTINGS):
    if url.startswith("memory://"):
        from assist.queue.memory import MemoryBackend

        return MemoryBackend(settings)
    if url.startswith("redis://"):
        from assist.queue.redis import RedisBackend

        return RedisBackend(url, settings)
    from assist.queue.spool import Spool

    return Spool(Path(url), settings)


def main() -> None:
    mode, url, queue, *rest = sys.argv[1:]
    q = backend(url).queue(queue)
    if mode == "claim-and-exit":
        assert len(q.claim(lease_s=float(rest[0]) if rest else 3600)) == 1
        return
    if mode == "produce":
        start, count = int(rest[0]), int(rest[1])
        acked = os.open(rest[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if len(rest) > 2 else None
        for i in range(start, start + count, 25):
            batch = [normalize({"type": "t", "data": {"n": n}}, source="test")
                     for n in range(i, min(i + 25, start + count))]
            q.put_many(batch)
            if acked is not None:  # what the producer was told is safe
                os.write(acked, "".join(f"{t['id']}\n" for t in batch).encode())
        return
    logfile, stopfile = rest[0], rest[1]
    work_s = float(rest[2]) if len(rest) > 2 else 0.0
    log = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()
    while True:
        leases = q.claim(8)
        if not leases:
            q.reap()
            if os.path.exists(stopfile) and next(q.list("new"), None) is None and next(q.list("cur"), None) is None:
                return
            time.sleep(0.01)
            continue
        for lease in leases:
            os.write(log, f"claim {lease.doc['data']['n']} {pid}\n".encode())
            if work_s:
                time.sleep(work_s)
            q.ack(lease)
            os.write(log, f"ack {lease.doc['data']['n']} {pid}\n".encode())


if __name__ == "__main__":
    main()
