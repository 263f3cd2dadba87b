"""Fault injection: the spool against a simple model of the queue (hypothesis, stateful).

Random puts (new ids and ids it holds), claims, acks, nacks, holds, releases, approvals, cancels, retries,
reaps, crashes (a worker process holding leases, killed with SIGKILL) and garbage dropped into new/ (not
JSON, not a task, a directory, a symbolic link, a wrong id). After every step: each task the model knows
is in exactly the state the model says, none is lost, none is there twice, what was not a task stands
in failed/ as a record, and the admin commands still work. A killed lease comes back to new/ on the next
reap with one more attempt: the documented at-least-once redelivery.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, precondition, rule

from assist.errors import AssistError, Conflict, LeaseLost
from assist.queue.settings import QueueSettings
from assist.queue.spool import Spool
from assist.task import normalize

SETTINGS = QueueSettings(max_attempts=3, lease_s=60, timeout_s=10, backoff_base_s=0.001, backoff_max_s=0.002,
                         keep_done_s=3600)
HOLDER = r"""
import sys, time
from pathlib import Path
from assist.queue.settings import QueueSettings
from assist.queue.spool import Spool
q = Spool(Path(sys.argv[1]), QueueSettings(lease_s=60)).queue("q")
print(" ".join(lease.id for lease in q.claim(int(sys.argv[2]))), flush=True)
time.sleep(600)
"""
GARBAGE = {
    "not json": b"{{{",
    "not an object": b"[1, 2]",
    "no type": b'{"id": "%s"}',
    "wrong id": b'{"type": "t", "id": "SOMEONE-ELSE"}',
    "bad meta": b'{"type": "t", "id": "%s", "meta": 5}',
}


class SpoolMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spool-model-"))
        self.q = Spool(self.dir / "spool", SETTINGS).queue("q")
        self.model: dict[str, str] = {}
        self.attempts: dict[str, int] = {}
        self.leases: dict = {}
        self.crashed: set[str] = set()  # leased by a worker that was killed: back to new at the next reap
        self.garbage = 0

    def teardown(self):
        self.q.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- producing ----------------------------------------------------------------------------------------

    @rule(target=ids, n=st.integers(1, 3))
    def put(self, n):
        docs = [normalize({"type": "t", "data": {"i": i}}, source="model", max_attempts=3) for i in range(n)]
        assert self.q.put_many(docs) == [d["id"] for d in docs]
        for d in docs:
            self.model[d["id"]] = "new"
            self.attempts[d["id"]] = 0
        return multiple(*(d["id"] for d in docs))

    @rule(task_id=ids, priority=st.integers(0, 9))
    def put_again(self, task_id, priority):
        again = normalize({"type": "t", "id": task_id, "priority": priority, "data": {"again": True}}, source="x")
        assert self.q.put_many([again]) == []  # the first is kept, whatever its state

    @rule(kind=st.sampled_from([*sorted(GARBAGE), "directory", "symlink", "bad name"]))
    def garbage_in_new(self, kind):
        event(f"garbage: {kind}")
        self.garbage += 1
        name = f"5-0000000000001-JUNK{self.garbage}.json"
        path = self.q.dirs["new"] / name
        if kind == "directory":
            path.mkdir()
        elif kind == "symlink":
            target = self.dir / f"outside{self.garbage}.json"
            target.write_bytes(orjson.dumps({"type": "t", "id": f"JUNK{self.garbage}"}))
            path.symlink_to(target)
        elif kind == "bad name":
            (self.q.dirs["new"] / f"garbage{self.garbage}.json").write_bytes(b"{}")
        else:
            raw = GARBAGE[kind]
            path.write_bytes(raw % f"JUNK{self.garbage}".encode() if b"%s" in raw else raw)

    # -- consuming ----------------------------------------------------------------------------------------

    @rule(n=st.integers(1, 4))
    def claim(self, n):
        for lease in self.q.claim(n):
            assert self.model.get(lease.id) == "new", (lease.id, self.model.get(lease.id))
            self.model[lease.id] = "cur"
            self.leases[lease.id] = lease

    def _take(self, data):
        return self.leases.pop(data.draw(st.sampled_from(sorted(self.leases))))

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def ack(self, data):
        lease = self._take(data)
        self.q.ack(lease)
        self.model[lease.id] = "done"

    @precondition(lambda self: self.leases)
    @rule(data=st.data(), permanent=st.booleans())
    def nack(self, data, permanent):
        lease = self._take(data)
        state = self.q.nack(lease, "boom", permanent=permanent)
        self.attempts[lease.id] += 1
        expected = "failed" if permanent or self.attempts[lease.id] >= 3 else "new"
        assert state == expected
        self.model[lease.id] = expected

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def hold(self, data):
        lease = self._take(data)
        self.q.hold(lease, lease.doc, "a person decides")
        self.model[lease.id] = "hold"

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data):
        lease = self._take(data)
        self.q.release(lease)
        self.model[lease.id] = "new"

    # -- administration -----------------------------------------------------------------------------------

    @rule(task_id=ids)
    def approve(self, task_id):
        if self.model[task_id] == "hold":
            self.q.approve(task_id)
            self.model[task_id] = "new"
        else:
            self._refused(lambda: self.q.approve(task_id))

    @rule(task_id=ids)
    def cancel(self, task_id):
        if self.model[task_id] in ("new", "cur", "hold", "failed"):
            assert self.q.cancel(task_id) == self.model[task_id]
            self.model[task_id] = "cancelled"
            lease = self.leases.pop(task_id, None)
            if lease is not None:  # its worker finds the lease gone
                try:
                    self.q.ack(lease)
                    raise AssertionError("an ack after a cancel must fail")
                except LeaseLost:
                    pass
            self.crashed.discard(task_id)
        else:
            self._refused(lambda: self.q.cancel(task_id))

    @rule(task_id=ids)
    def retry(self, task_id):
        if self.model[task_id] in ("failed", "cancelled"):
            self.q.retry(task_id)
            self.model[task_id] = "new"
            self.attempts[task_id] = 0
        else:
            self._refused(lambda: self.q.retry(task_id))

    @staticmethod
    def _refused(call):
        try:
            call()
        except Conflict:
            return
        raise AssertionError("a change not allowed in this state went through")

    @rule()
    def reap(self):
        event(f"reaped {len(self.crashed)} crashed")
        counts = self.q.reap()
        for task_id in self.crashed:
            self.attempts[task_id] += 1
            self.model[task_id] = "failed" if self.attempts[task_id] >= 3 else "new"
        assert counts["requeued"] + counts["failed"] == len(self.crashed)
        self.crashed.clear()

    @precondition(lambda self: any(state == "new" for state in self.model.values()))
    @rule(n=st.integers(1, 2))
    def crash_a_worker(self, n):
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(self.dir / "spool"), str(n)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy())
        taken = holder.stdout.readline().decode().split()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        event(f"crashed holding {len(taken)}")
        for task_id in taken:
            assert self.model[task_id] == "new"
            self.model[task_id] = "cur"
            self.crashed.add(task_id)

    # -- what must always hold ----------------------------------------------------------------------------

    @invariant()
    def every_task_once_in_its_state(self):
        seen: dict[str, str] = {}
        for info in self.q.list():
            assert info.id not in seen, f"{info.id} is in {seen[info.id]} and {info.state}"
            seen[info.id] = info.state
        for task_id, state in self.model.items():
            assert seen.get(task_id) == state, (task_id, state, seen.get(task_id))
        for task_id, state in seen.items():  # anything else is garbage not claimed yet, or its record
            if task_id in self.model:
                continue
            if state == "new":
                assert task_id.startswith("JUNK")
                continue
            assert state == "failed", (task_id, state)
            [info] = [i for i in self.q.list("failed") if i.id == task_id]
            assert self.q.read(info)["type"] == "assist.invalid"

    @invariant()
    def admin_still_works(self):
        stats = self.q.stats()
        assert stats["depth"]["new"] >= sum(1 for s in self.model.values() if s == "new")
        try:
            self.q.purge("cancelled", 3600)
        except AssistError as exc:  # pragma: no cover - must not happen
            raise AssertionError(exc) from None


SpoolMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                          suppress_health_check=list(HealthCheck))
test_spool_against_its_model = SpoolMachine.TestCase


def test_the_model_sees_a_lost_task():
    """The machine's checks can fail: a task file removed behind the spool's back is caught."""
    machine = SpoolMachine()
    try:
        [task_id] = machine.put(1).values
        os.unlink(next(machine.q.dirs["new"].iterdir()))
        try:
            machine.every_task_once_in_its_state()
        except AssertionError:
            return
        raise AssertionError(f"{task_id} vanished and the invariant did not notice")
    finally:
        machine.teardown()
        time.sleep(0)
