"""The queue interface, run against every backend: the spool and Redis Streams."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from assist.errors import Conflict, LeaseLost, NotFound
from assist.queue.settings import QueueSettings
from assist.task import normalize
from assist.timeutil import now_ms, rfc3339
from helpers.queue_worker import backend

SETTINGS = QueueSettings(max_attempts=3, lease_s=30, timeout_s=10, backoff_base_s=0.05, backoff_max_s=0.2,
                         keep_done_s=3600)
WORKER = str(Path(__file__).parent / "helpers" / "queue_worker.py")


@pytest.fixture(params=["spool", "redis"])
def url(request, tmp_path) -> str:
    """A queue several processes can share (the tests that run workers as processes)."""
    if request.param == "redis":
        return request.getfixturevalue("fresh_redis")
    return str(tmp_path / "spool")


@pytest.fixture(params=["spool", "redis", "memory"])
def q(request, tmp_path):
    """The queue every backend implements: the spool, Redis, and the in-memory one the fast tests use."""
    if request.param == "redis":
        where = request.getfixturevalue("fresh_redis")
    elif request.param == "memory":
        where = "memory://conformance"
    else:
        where = str(tmp_path / "spool")
    queue = backend(where, SETTINGS).queue("inbox")
    yield queue
    queue.close()


def task(**extra) -> dict:
    return normalize({"type": "text", "data": {"n": 1}, **extra}, source="test", max_attempts=3)


def states(q) -> dict[str, str]:
    return {info.id: info.state for info in q.list()}


def claim_soon(q, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leases = q.claim()
        if leases:
            return leases
        time.sleep(0.01)
    return []


def test_priority_then_due_order(q):
    low, high, a, b = task(priority=7), task(priority=1), task(priority=5), task(priority=5)
    for t in (low, a, high, b):
        q.put(t)
    assert [lease.id for lease in q.claim(10)] == [high["id"], a["id"], b["id"], low["id"]]
    assert set(states(q).values()) == {"cur"}


def test_put_is_idempotent_by_id_or_keeps_one_copy(q):
    t = task()
    q.put_many([t])
    assert [lease.id for lease in q.claim(5)] == [t["id"]]


def test_delayed_task_waits_until_due(q):
    t = task()
    t["meta"]["not_before"] = rfc3339(now_ms() + 300)
    q.put(t)
    assert q.claim() == []
    assert q.stats()["delayed"] == 1
    time.sleep(0.35)
    assert [lease.id for lease in q.claim()] == [t["id"]]


def test_ack_keeps_the_final_document(q):
    q.put(task())
    [lease] = q.claim()
    q.ack(lease, dict(lease.doc, result={"text": "ok"}))
    info, doc = q.get(lease.id)
    assert info.state == "done" and doc["result"] == {"text": "ok"}


def test_nack_backs_off_then_dead_letters(q):
    t = task()
    q.put(t)
    seen = []
    for attempt in range(1, 4):
        [lease] = claim_soon(q)
        seen.append(q.nack(lease, f"boom {attempt}"))
    assert seen == ["new", "new", "failed"]
    info, doc = q.get(t["id"])
    assert info.state == "failed" and doc["meta"]["attempts"] == 3 and doc["meta"]["last_error"] == "boom 3"


def test_permanent_nack_and_dead_letter_put(q):
    q.put(task())
    [lease] = q.claim()
    assert q.nack(lease, "bad", permanent=True) == "failed"
    dead = task()
    q.put_many([dead], state="failed")
    assert sorted(i.id for i in q.list("failed")) == sorted([lease.id, dead["id"]])


def test_hold_approve_reject(q):
    a, b = task(), task()
    q.put_many([a, b])
    la, lb = q.claim(2)
    q.hold(la, la.doc, "confirm")
    q.hold(lb, lb.doc, "confirm")
    assert states(q) == {a["id"]: "hold", b["id"]: "hold"}
    q.approve(a["id"])
    [again] = q.claim()
    # the approval itself is recorded outside the task (act/approvals.py): the document says nothing of it
    assert again.id == a["id"] and "approved" not in again.doc["meta"] and "hold_reason" not in again.doc["meta"]
    q.reject(b["id"], "no")
    info, doc = q.get(b["id"])
    assert info.state == "cancelled" and doc["meta"]["last_error"] == "rejected: no"
    with pytest.raises(Conflict):
        q.approve(b["id"])


def test_a_put_of_an_id_the_queue_holds_keeps_the_first(q):
    """One rule on every backend: a second put of an id is skipped, whatever its priority or the state the
    first is in, and put_many returns only the ids it stored."""
    first = task(priority=5)
    assert q.put_many([first]) == [first["id"]]
    again = {**first, "priority": 1, "data": {"n": 2}}
    assert q.put_many([again, task()])[0] != first["id"]
    [info] = [i for i in q.list() if i.id == first["id"]]
    assert info.state == "new" and q.get(first["id"])[1]["data"] == {"n": 1}
    assert sum(1 for i in q.list() if i.id == first["id"]) == 1
    twice = task()
    assert q.put_many([twice, dict(twice)]) == [twice["id"]]
    # finished, then put again: still the first (a redelivered event is not done twice)
    leases = {lease.id: lease for lease in q.claim(10)}
    q.ack(leases[first["id"]])
    assert q.put_many([again]) == [] and q.get(first["id"])[0].state == "done"
    # once purged, the id may be used again
    q.purge("done", 0)
    assert q.put_many([again]) == [first["id"]]


def test_put_straight_into_hold(q):
    held = task()
    held["meta"]["hold_reason"] = "awaiting approval"
    assert q.put_many([held], state="hold") == [held["id"]]
    info, doc = q.get(held["id"])
    assert info.state == "hold" and doc["meta"]["hold_reason"] == "awaiting approval"
    q.approve(held["id"])
    assert [lease.id for lease in q.claim()] == [held["id"]]


@pytest.mark.parametrize("bad_id", ["../../../../x", "a/b", "", "x" * 65, 5])
def test_a_put_refuses_an_id_that_could_name_another_file(q, bad_id):
    with pytest.raises(ValueError):
        q.put_many([{**task(), "id": bad_id}])


def test_a_bad_queue_name_is_refused(url):
    from assist.errors import UsageError

    for name in ("../x", "a/b", "", ".hidden", "UPPER"):
        with pytest.raises(UsageError):
            backend(url, SETTINGS).queue(name)


def test_cancel_in_every_live_state(q):
    ids = q.put_many([task() for _ in range(3)])
    assert q.cancel(ids[0]) == "new"
    la, lb = q.claim(2)
    q.hold(la, la.doc, "x")
    q.nack(lb, "x", permanent=True)
    assert q.cancel(la.id) == "hold"
    assert q.cancel(lb.id) == "failed"
    with pytest.raises(Conflict):
        q.cancel(ids[0])
    with pytest.raises(NotFound):
        q.cancel("NOSUCHTASK")


def test_cancelled_lease_is_lost_to_its_worker(q):
    q.put(task())
    [lease] = q.claim()
    assert q.cancel(lease.id) == "cur"
    with pytest.raises(LeaseLost):
        q.heartbeat(lease)
    with pytest.raises(LeaseLost):
        q.ack(lease)
    assert states(q) == {lease.id: "cancelled"}


def test_heartbeat_release_and_retry(q):
    q.put(task())
    [lease] = q.claim(lease_s=1)
    q.heartbeat(lease, lease_s=60)
    assert lease.deadline_ms > now_ms() + 50_000
    q.release(lease)
    [again] = q.claim()
    assert again.doc["meta"]["attempts"] == 0
    q.nack(again, "x", permanent=True)
    assert q.retry(again.id) == "failed"
    [third] = q.claim()
    assert third.doc["meta"]["attempts"] == 0
    with pytest.raises(Conflict):
        q.retry(third.id)


def test_reap_requeues_an_expired_lease(q):
    q.put(task())
    [lease] = q.claim(lease_s=0.05)
    time.sleep(0.2)
    assert q.reap()["requeued"] == 1
    with pytest.raises(LeaseLost):
        q.ack(lease)
    [again] = claim_soon(q)
    assert again.doc["meta"]["attempts"] == 1 and "lease expired" in again.doc["meta"]["last_error"]


def test_reap_requeues_the_lease_of_a_dead_worker_at_once(url):
    q = backend(url, SETTINGS).queue("inbox")
    q.put(task())
    subprocess.run([sys.executable, WORKER, "claim-and-exit", url, "inbox"], check=True)
    assert q.stats()["depth"]["cur"] == 1
    assert q.reap()["requeued"] == 1
    assert claim_soon(q)


def test_reap_leaves_live_leases_alone(q):
    q.put(task())
    [lease] = q.claim()
    assert q.reap()["requeued"] == 0
    q.ack(lease)


def test_purge_stats_find(q):
    ids = q.put_many([task() for _ in range(3)])
    for lease in q.claim(2):
        q.ack(lease)
    s = q.stats()
    assert s["depth"]["done"] == 2 and s["ready"] == 1 and s["done_last_1m"] == 2
    assert s["oldest_ready_age_s"] is not None
    assert q.purge("done", 3600) == 0
    time.sleep(0.05)
    assert q.purge("done", 0.01) == 2
    with pytest.raises(Conflict):
        q.purge("new", 0)
    [found] = q.find(ids[2][:22])
    assert found.id == ids[2] and found.state == "new"
    assert q.read(found)["id"] == ids[2]


def test_trim_keeps_the_newest_finished_tasks(q):
    ids = q.put_many([task() for _ in range(7)])
    for task_id in ids:  # finished one after another, a few ms apart
        [lease] = q.claim()
        assert lease.id == task_id
        q.ack(lease)
        time.sleep(0.01)
    assert q.trim("done", 10) == 0
    assert q.trim("done", 3) == 4
    assert sorted(i.id for i in q.list("done")) == sorted(ids[4:])
    with pytest.raises(Conflict):
        q.trim("new", 0)


def test_wait_wakes_on_arrival(q):
    woke: list[float] = []

    def waiter():
        t0 = time.monotonic()
        q.wait(10)
        woke.append(time.monotonic() - t0)

    q.wait(0.01)
    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    q.put(task())
    thread.join(12)
    assert woke and woke[0] < 9


def test_interrupt_wakes_a_waiter(q):
    done = threading.Event()
    thread = threading.Thread(target=lambda: (q.wait(30), done.set()))
    thread.start()
    time.sleep(0.3)
    q.interrupt()
    assert done.wait(5)


def test_interrupt_wakes_every_waiting_thread_and_later_waits(q):
    woken = [threading.Event() for _ in range(3)]
    threads = [threading.Thread(target=lambda e=e: (q.wait(30), e.set())) for e in woken]
    for t in threads:
        t.start()
    time.sleep(0.3)
    q.interrupt()
    assert all(e.wait(5) for e in woken)  # a worker with -j 3 stops at once, not after its wait
    started = time.monotonic()
    q.wait(30)
    assert time.monotonic() - started < 5


def test_an_arrival_wakes_every_waiting_thread(tmp_path):
    """On the spool one thread watches new/ and the others sleep until it comes back: all look again."""
    from assist.queue.spool import Spool

    q = Spool(tmp_path / "spool", SETTINGS).queue("q")
    woken = [threading.Event() for _ in range(2)]
    threads = [threading.Thread(target=lambda e=e: (q.wait(30), e.set())) for e in woken]
    for t in threads:
        t.start()
    time.sleep(0.3)
    q.put(task())
    assert all(e.wait(5) for e in woken)


def test_two_producers_two_consumers_deliver_each_task_once(url, tmp_path):
    stop = tmp_path / "stop"
    logs = [tmp_path / f"c{i}.log" for i in range(2)]
    backend(url, SETTINGS).queue("q")  # create it before the processes race to
    consumers = [subprocess.Popen([sys.executable, WORKER, "consume", url, "q", str(log), str(stop)]) for log in logs]
    producers = [subprocess.Popen([sys.executable, WORKER, "produce", url, "q", str(i * 1000), "1000"])
                 for i in range(2)]
    assert all(p.wait(timeout=120) == 0 for p in producers)
    stop.touch()
    assert all(c.wait(timeout=120) == 0 for c in consumers)
    acks: dict[int, int] = defaultdict(int)
    for log in logs:
        for line in log.read_text().splitlines():
            kind, n, _pid = line.split()
            if kind == "ack":
                acks[int(n)] += 1
    assert sorted(acks) == list(range(2000)) and set(acks.values()) == {1}
    assert backend(url, SETTINGS).queue("q").stats()["depth"]["done"] == 2000
