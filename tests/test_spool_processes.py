"""The spool under many real processes: nothing lost, nothing acked twice, crashes recovered."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HELPER = str(Path(__file__).parent / "helpers" / "queue_worker.py")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, HELPER, *map(str, args)])


def _read_logs(paths: list[Path]) -> tuple[dict, dict]:
    claims: dict[int, list[str]] = defaultdict(list)
    acks: dict[int, list[str]] = defaultdict(list)
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            kind, n, pid = line.split()
            (claims if kind == "claim" else acks)[int(n)].append(pid)
    return claims, acks


def test_four_producers_four_consumers_20000_tasks_each_acked_exactly_once(tmp_path):
    root, total, per = tmp_path / "spool", 20_000, 5_000
    stop = tmp_path / "producers-done"
    logs = [tmp_path / f"consumer-{i}.log" for i in range(4)]
    consumers = [_start("consume", root, "q", log, stop) for log in logs]
    producers = [_start("produce", root, "q", i * per, per) for i in range(4)]
    for p in producers:
        assert p.wait(timeout=300) == 0
    stop.touch()
    for c in consumers:
        assert c.wait(timeout=300) == 0

    claims, acks = _read_logs(logs)
    assert sorted(acks) == list(range(total))  # every task acked...
    assert all(len(v) == 1 for v in acks.values())  # ...exactly once
    assert all(len(v) == 1 for v in claims.values())  # no consumer died, so no redelivery
    done = os.listdir(root / "q" / "done")
    assert len(done) == total
    for state in ("new", "cur", "failed", "tmp"):
        assert os.listdir(root / "q" / state) == [], state
    assert sum(1 for v in acks.values() for _ in v) == total
    per_consumer = [sum(1 for v in acks.values() if v[0] == str(c.pid)) for c in consumers]
    assert sum(per_consumer) == total


def test_sigkill_consumers_while_draining_5000_tasks_loses_nothing(tmp_path):
    root, total = tmp_path / "spool", 5_000
    stop = tmp_path / "stop"
    _start("produce", root, "q", 0, total).wait(timeout=120)
    assert len(os.listdir(root / "q" / "new")) == total

    rng = random.Random(7)
    logs: list[Path] = []
    killed: set[str] = set()
    consumers: list[subprocess.Popen] = []

    def spawn() -> None:
        log = tmp_path / f"consumer-{len(logs)}.log"
        logs.append(log)
        consumers.append(_start("consume", root, "q", log, stop, 0.002))

    for _ in range(4):
        spawn()
    kills = 0
    while kills < 12:
        time.sleep(rng.uniform(0.02, 0.25))
        alive = [c for c in consumers if c.poll() is None]
        if not alive or len(os.listdir(root / "q" / "done")) >= total - 200:
            break
        victim = rng.choice(alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed.add(str(victim.pid))
        kills += 1
        spawn()
    stop.touch()
    for c in consumers:
        c.wait(timeout=300)

    assert kills >= 3, "the consumers finished before enough of them were killed"
    done = os.listdir(root / "q" / "done")
    assert len(done) == total, "every task is done"
    for state in ("new", "cur", "failed"):
        assert os.listdir(root / "q" / state) == [], state

    claims, acks = _read_logs(logs)
    assert all(len(v) <= 1 for v in acks.values()), "no task acked twice"
    redelivered = {n: pids for n, pids in claims.items() if len(pids) > 1}
    assert redelivered, "killed consumers held leases, so some tasks must have been delivered again"
    for n, pids in redelivered.items():
        # every delivery but the one that finished went to a consumer killed while holding the lease
        survivors = [pid for pid in pids if pid not in killed]
        assert len(survivors) <= 1, (n, pids, killed)
        if survivors:
            assert acks[n] == survivors, (n, pids, acks[n])
    # a task may be done without an ack line only when its consumer died right after the ack
    unlogged = set(range(total)) - set(acks)
    for n in unlogged:
        assert claims.get(n) and set(claims[n]) <= killed
