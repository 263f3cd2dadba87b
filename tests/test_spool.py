"""What is particular to the spool: its files. The behaviour every backend shares is in
test_queue_conformance.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assist.errors import Conflict, LeaseLost
from assist.queue.settings import QueueSettings
from assist.queue.spool import HOST, Spool, SpoolQueue
from assist.task import new_id, normalize
from assist.timeutil import now_ms

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




def test_claimed_lease_names_owner_and_deadline(q):
    q.put(task())
    [lease] = q.claim()
    [name] = files(q, "cur")
    task_id, deadline, pid, host = name[:-5].split("@")
    assert (task_id, int(pid), host) == (lease.id, os.getpid(), HOST)
    assert abs(int(deadline) - (now_ms() + 30_000)) < 5_000










def test_backoff_grows(q):
    from assist.queue.base import backoff_s

    s = QueueSettings(backoff_base_s=1, backoff_max_s=100)
    assert 0.5 <= backoff_s(1, s) <= 1
    assert 4 <= backoff_s(4, s) <= 8
    assert 50 <= backoff_s(20, s) <= 100






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






def test_corrupt_file_in_new_goes_to_failed_not_to_a_worker(q):
    (q.dirs["new"] / f"5-0000000000000-{new_id()}.json").write_bytes(b"\x00garbage")
    good = task()
    q.put(good)
    leases = q.claim(5)
    assert [lease.id for lease in leases] == [good["id"]]
    assert len(files(q, "failed")) == 1



def test_a_task_that_moves_while_listed_is_shown_once_where_it_is_now(q):
    """`queue ls` reads each listed task's document: one claimed (new -> cur) between the listing and
    the read is shown in cur with its document, not as a row without one; one moved out of the states
    asked for, or purged, is not shown."""
    from assist.queue.admin import current_row

    q.put_many([task(), task()])
    listed = {info.id: info for info in q.list("new")}
    [lease] = q.claim(1)  # the first in line moves to cur/ after it was listed in new/
    row = current_row(q, listed[lease.id], ["new", "cur"])
    assert row is not None and row.info.state == "cur" and row.doc is not None and row.doc["id"] == lease.id
    assert row.as_dict()["type"] == "text" and row.as_dict()["state"] == "cur"
    assert current_row(q, listed[lease.id], ["new"]) is None  # asked for new/ only: it is not there now
    other = next(i for i in listed if i != lease.id)
    assert current_row(q, listed[other], ["new"]).doc["id"] == other
    q.cancel(lease.id)
    assert q.purge("cancelled", 0) == 1
    assert current_row(q, listed[lease.id], ["new", "cur", "cancelled"]) is None  # purged


def test_a_queue_made_before_id_markers_keeps_one_copy_of_each_task_it_holds(tmp_path):
    """A spool written by an assist without ids/: its tasks get their markers when the queue is opened,
    so putting one again (a redelivered event) neither adds a second copy nor overwrites a finished one."""
    spool = Spool(tmp_path / "spool", SETTINGS)
    q = spool.queue("inbox")
    waiting, finished, held = task(), task(), task()
    q.put_many([waiting, finished])
    q.put_many([held], state="hold")
    [lease] = [lease for lease in q.claim(2) if lease.id == finished["id"]]
    q.ack(lease)
    for name in os.listdir(q.dirs["ids"]):  # as an older assist left it
        os.unlink(q.dirs["ids"] / name)
    os.rmdir(q.dirs["ids"])
    os.unlink(q.root / ".ids-complete")
    again = Spool(tmp_path / "spool", SETTINGS).queue("inbox")
    assert sorted(os.listdir(again.dirs["ids"])) == sorted(t["id"] for t in (waiting, finished, held))
    assert again.put_many([{**t, "data": {"n": 2}} for t in (waiting, finished, held)]) == []
    assert {i.id: i.state for i in again.list()} == {
        waiting["id"]: "cur", finished["id"]: "done", held["id"]: "hold"}
    assert all(again.get(t["id"])[1]["data"] == {"n": 1} for t in (waiting, finished, held))
