"""Every spool operation and state transition, in one process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assist.config import QueueSettings
from assist.errors import Conflict, LeaseLost, NotFound
from assist.queue.spool import HOST, Spool, SpoolQueue
from assist.task import new_id, normalize
from assist.timeutil import now_ms, rfc3339

SETTINGS = QueueSettings(max_attempts=3, lease_s=30, timeout_s=10, backoff_base_s=0.05, backoff_max_s=0.2,
                         keep_done_s=3600)


def task(kind: str = "text", **extra) -> dict:
    return normalize({"type": kind, "data": {"n": 1}, **extra}, source="test", max_attempts=3)


@pytest.fixture
def q(tmp_path: Path) -> SpoolQueue:
    return Spool(tmp_path / "spool", SETTINGS).queue("inbox")


def files(q: SpoolQueue, state: str) -> list[str]:
    return sorted(n for n in os.listdir(q.dirs[state]) if n.endswith(".json"))


def test_put_writes_one_file_in_new_and_nothing_left_in_tmp(q):
    t = task(priority=3)
    assert q.put(t) == t["id"]
    [name] = files(q, "new")
    assert name.startswith("3-") and name.endswith(f"-{t['id']}.json")
    assert os.listdir(q.dirs["tmp"]) == []


def test_batch_put_keeps_every_task(q):
    ids = q.put_many([task() for _ in range(200)])
    assert len(set(ids)) == 200
    assert len(files(q, "new")) == 200


def test_claim_serves_priority_then_due_time(q):
    low = task(priority=7)
    high = task(priority=1)
    mid_a = task(priority=5)
    mid_b = task(priority=5)
    for t in (low, mid_a, high, mid_b):
        q.put(t)
    order = [lease.id for lease in q.claim(10)]
    assert order == [high["id"], mid_a["id"], mid_b["id"], low["id"]]
    assert len(files(q, "cur")) == 4 and files(q, "new") == []


def test_claimed_lease_names_owner_and_deadline(q):
    q.put(task())
    [lease] = q.claim()
    [name] = files(q, "cur")
    task_id, deadline, pid, host = name[:-5].split("@")
    assert (task_id, int(pid), host) == (lease.id, os.getpid(), HOST)
    assert abs(int(deadline) - (now_ms() + 30_000)) < 5_000


def test_delayed_task_is_not_claimed_before_it_is_due(q):
    t = task()
    t["meta"]["not_before"] = rfc3339(now_ms() + 300)
    q.put(t)
    assert q.claim() == []
    assert q.next_due_ms is not None
    time.sleep(0.35)
    assert [lease.id for lease in q.claim()] == [t["id"]]


def test_ack_moves_to_done_and_keeps_final_document(q):
    q.put(task())
    [lease] = q.claim()
    final = dict(lease.doc, result={"text": "ok"})
    q.ack(lease, final)
    info, doc = q.get(lease.id)
    assert info.state == "done" and doc["result"] == {"text": "ok"}
    assert os.listdir(q.dirs["tmp"]) == []


def test_nack_retries_with_backoff_then_dead_letters(q):
    t = task()
    q.put(t)
    states = []
    for attempt in range(1, 4):
        deadline = time.monotonic() + 5
        leases = []
        while not leases and time.monotonic() < deadline:
            leases = q.claim()
            time.sleep(0.01)
        [lease] = leases
        states.append(q.nack(lease, f"boom {attempt}"))
        if states[-1] == "new":
            info, doc = q.get(t["id"])
            assert info.due_ms > now_ms() - 50  # backoff set in the future when written
            assert doc["meta"]["attempts"] == attempt
    assert states == ["new", "new", "failed"]
    info, doc = q.get(t["id"])
    assert info.state == "failed"
    assert doc["meta"]["last_error"] == "boom 3" and doc["meta"]["attempts"] == 3


def test_permanent_nack_goes_straight_to_failed(q):
    q.put(task())
    [lease] = q.claim()
    assert q.nack(lease, "bad data", permanent=True) == "failed"
    assert len(files(q, "failed")) == 1


def test_backoff_grows(q):
    from assist.queue.base import backoff_s

    s = QueueSettings(backoff_base_s=1, backoff_max_s=100)
    assert 0.5 <= backoff_s(1, s) <= 1
    assert 4 <= backoff_s(4, s) <= 8
    assert 50 <= backoff_s(20, s) <= 100


def test_hold_approve_and_reject(q):
    a, b = task(), task()
    q.put_many([a, b])
    la, lb = q.claim(2)
    q.hold(la, dict(la.doc, actions=[{"type": "email.send", "status": "awaiting_approval"}]), "needs approval")
    q.hold(lb, lb.doc, "needs a person")
    assert len(files(q, "hold")) == 2
    q.approve(a["id"])
    [again] = q.claim()
    assert again.id == a["id"] and again.doc["meta"]["approved"] is True
    q.reject(b["id"], "no")
    info, doc = q.get(b["id"])
    assert info.state == "cancelled" and doc["meta"]["last_error"] == "rejected: no"
    with pytest.raises(Conflict):
        q.approve(b["id"])


def test_cancel_new_held_and_failed(q):
    ids = q.put_many([task() for _ in range(3)])
    assert q.cancel(ids[0]) == "new"
    la, lb = q.claim(2)
    q.hold(la, la.doc, "x")
    q.nack(lb, "x", permanent=True)
    assert q.cancel(la.id) == "hold"
    assert q.cancel(lb.id) == "failed"
    assert len(files(q, "cancelled")) == 3
    with pytest.raises(Conflict):
        q.cancel(ids[0])


def test_cancel_of_a_leased_task_is_noticed_by_its_worker(q):
    q.put(task())
    [lease] = q.claim()
    assert q.cancel(lease.id) == "cur"
    with pytest.raises(LeaseLost):
        q.heartbeat(lease)
    assert lease.lost.is_set()
    with pytest.raises(LeaseLost):
        q.ack(lease)
    assert files(q, "done") == [] and len(files(q, "cancelled")) == 1


def test_heartbeat_extends_the_lease(q):
    q.put(task())
    [lease] = q.claim(lease_s=1)
    before = lease.deadline_ms
    q.heartbeat(lease, lease_s=60)
    assert lease.deadline_ms > before + 50_000
    [name] = files(q, "cur")
    assert name == lease.handle
    q.ack(lease)


def test_release_gives_the_task_back_without_counting_an_attempt(q):
    q.put(task())
    [lease] = q.claim()
    q.release(lease)
    [again] = q.claim()
    assert again.id == lease.id and again.doc["meta"]["attempts"] == 0


def test_retry_resets_attempts(q):
    q.put(task())
    [lease] = q.claim()
    q.nack(lease, "x", permanent=True)
    assert q.retry(lease.id) == "failed"
    [again] = q.claim()
    assert again.doc["meta"]["attempts"] == 0
    with pytest.raises(Conflict):
        q.retry(again.id)


def test_reap_requeues_expired_leases_and_counts_an_attempt(q):
    q.put(task())
    [lease] = q.claim(lease_s=0.05)
    time.sleep(0.1)
    counts = q.reap()
    assert counts["requeued"] == 1
    with pytest.raises(LeaseLost):  # the old owner can no longer finish it
        q.ack(lease)
    deadline = time.monotonic() + 3
    again = []
    while not again and time.monotonic() < deadline:
        again = q.claim()
    assert again[0].doc["meta"]["attempts"] == 1
    assert "lease expired" in again[0].doc["meta"]["last_error"]


def test_reap_requeues_leases_of_dead_workers_at_once(q, tmp_path):
    import subprocess
    import sys

    q.put(task())
    # a real process claims the task and exits without acking it
    code = ("import sys; from pathlib import Path; from assist.queue.spool import Spool; "
            "from assist.config import QueueSettings; "
            f"q = Spool(Path({str(q.root.parent)!r}), QueueSettings()).queue('inbox'); "
            "assert len(q.claim(lease_s=3600)) == 1")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len(files(q, "cur")) == 1
    assert q.reap()["requeued"] == 1
    assert len(files(q, "new")) == 1


def test_reap_does_not_touch_live_leases(q):
    q.put(task())
    [lease] = q.claim()
    assert q.reap()["requeued"] == 0
    q.ack(lease)


def test_reap_removes_temporary_files_of_dead_writers(q):
    stale = q.dirs["tmp"] / f"{new_id()}.999999999.1.tmp"
    stale.write_bytes(b"{")
    mine = q.dirs["tmp"] / f"{new_id()}.{os.getpid()}.1.tmp"
    mine.write_bytes(b"{")
    assert q.reap()["tmp_removed"] == 1
    assert not stale.exists() and mine.exists()


def test_purge_removes_only_old_terminal_tasks(q):
    q.put_many([task(), task()])
    for lease in q.claim(2):
        q.ack(lease)
    assert q.purge("done", 3600) == 0
    assert len(files(q, "done")) == 2
    time.sleep(0.05)
    assert q.purge("done", 0.01) == 2
    assert files(q, "done") == []
    with pytest.raises(Conflict):
        q.purge("new", 0)


def test_stats_counts_states_and_oldest_ready(q):
    q.put_many([task() for _ in range(3)])
    [lease] = q.claim()
    q.ack(lease)
    s = q.stats()
    assert s["depth"]["new"] == 2 and s["depth"]["done"] == 1
    assert s["ready"] == 2 and s["delayed"] == 0
    assert s["oldest_ready_age_s"] >= 0
    assert s["done_last_1m"] == 1


def test_find_by_prefix_and_get(q):
    t = task()
    q.put(t)
    [info] = q.find(t["id"][:20])
    assert info.id == t["id"] and info.state == "new"
    with pytest.raises(NotFound):
        q.get("NOPE")


def test_corrupt_file_in_new_goes_to_failed_not_to_a_worker(q):
    (q.dirs["new"] / f"5-0000000000000-{new_id()}.json").write_bytes(b"\x00garbage")
    good = task()
    q.put(good)
    leases = q.claim(5)
    assert [lease.id for lease in leases] == [good["id"]]
    assert len(files(q, "failed")) == 1


def test_wait_wakes_when_a_task_arrives(q):
    import threading

    woke = []

    def waiter():
        t0 = time.monotonic()
        q.wait(10)
        woke.append(time.monotonic() - t0)

    q.wait(0.01)  # start the watcher
    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.2)
    q.put(task())
    thread.join(12)
    q.close()
    assert woke and woke[0] < 9  # woken by the arrival, not by the timeout
