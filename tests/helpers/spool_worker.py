"""A producer or consumer process for the multi-process spool tests.

    python spool_worker.py produce ROOT QUEUE START COUNT
    python spool_worker.py consume ROOT QUEUE LOGFILE STOPFILE [WORK_SECONDS]

A consumer writes `claim N PID` after each claim and `ack N PID` after each ack to LOGFILE (one O_APPEND write
each), reaps when it finds nothing, and exits once STOPFILE exists and the queue has nothing left.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from assist.config import QueueSettings
from assist.queue.spool import Spool
from assist.task import normalize

SETTINGS = QueueSettings(lease_s=120, backoff_base_s=0.01, backoff_max_s=0.05, max_attempts=50)


def produce(root: str, queue: str, start: int, count: int) -> None:
    q = Spool(Path(root), SETTINGS).queue(queue)
    i = start
    while i < start + count:
        size = 1 if i % 7 == 0 else 50  # single puts and batches, interleaved
        batch = [normalize({"type": "test", "data": {"n": n}}, source="test")
                 for n in range(i, min(i + size, start + count))]
        q.put_many(batch)
        i += len(batch)


def consume(root: str, queue: str, logfile: str, stopfile: str, work_s: str = "0") -> None:
    q = Spool(Path(root), SETTINGS).queue(queue)
    log = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()
    while True:
        leases = q.claim(8)
        if not leases:
            q.reap()
            if os.path.exists(stopfile) and not os.listdir(q.dirs["new"]) and not os.listdir(q.dirs["cur"]):
                return
            time.sleep(0.005)
            continue
        for lease in leases:
            os.write(log, f"claim {lease.doc['data']['n']} {pid}\n".encode())
            if float(work_s):
                time.sleep(float(work_s))
            q.ack(lease)
            os.write(log, f"ack {lease.doc['data']['n']} {pid}\n".encode())


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "produce":
        produce(args[0], args[1], int(args[2]), int(args[3]))
    else:
        consume(*args)
