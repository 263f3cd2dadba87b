"""The fast layer: the runner, the planner, the policies and approvals, in process on the in-memory queue
(`memory://`), in milliseconds. The real-process tests (test_runner, test_act, test_hostile...) stay the
acceptance layer; these pin the logic down where it is cheap to try many cases."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from assist.act.approvals import plan_digest, waiting
from assist.act.plan import plan
from assist.config import DEFAULTS, Config
from assist.errors import MissingExtra, PermanentError, TemporaryError
from assist.stages.act import ActStage
from assist.stages.base import Hold, Stage, StageContext
from assist.stages.runner import Runner, RunOptions
from assist.stores.local import Approvals
from assist.task import normalize

_names = itertools.count()


def config(home: Path, **raw) -> Config:
    queue = {**DEFAULTS["queue"], "url": f"memory://fast-{next(_names)}", "backoff_base": "1ms",
             "backoff_max": "2ms", "timeout": "5s"}
    return Config(home=home, path=None, raw={"queue": queue, **raw})


def task(**extra) -> dict:
    return normalize({"type": "t", "data": {"subject": "hi"}, **extra}, source="fast", max_attempts=3)


class Scripted(Stage):
    """Fails, holds or passes each task as its data says."""

    name = "scripted"

    def __init__(self):
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def process(self, doc, ctx):
        with self.lock:
            self.calls[doc["id"]] = self.calls.get(doc["id"], 0) + 1
            count = self.calls[doc["id"]]
        what = doc["data"].get("do")
        if what == "flaky" and count < 3:
            raise TemporaryError("busy")
        if what == "flaky-for-ever":
            raise TemporaryError("busy")
        if what == "bad":
            raise PermanentError("no")
        if what == "bug":
            raise KeyError("oops")
        if what == "hold":
            return Hold(doc, "a person decides")
        if what == "missing-extra":
            raise MissingExtra("scripted needs the x extra: pip install 'assist[x]'")
        doc["result"] = {"ok": True}
        return doc


def drain(cfg: Config, stage: Stage, rounds: int = 20) -> None:
    """Run the stage from queue `in` to `out` until nothing is left to retry."""
    q = cfg.backend().queue("in")
    for _ in range(rounds):
        Runner(stage, cfg, RunOptions(source="in", dest="out", once=True)).run()
        if not any(True for _ in q.list("new")):
            return
        q.wait(0.01)


def states(cfg: Config, queue: str = "in") -> dict[str, str]:
    return {info.id: info.state for info in cfg.backend().queue(queue).list()}


def test_outcomes_settle_every_task(tmp_path):
    cfg = config(tmp_path)
    docs = {what: task(data={"do": what}) for what in ("pass", "flaky", "bad", "bug", "hold", "flaky-for-ever")}
    cfg.backend().queue("in").put_many(docs.values())
    drain(cfg, Scripted())
    got = states(cfg)
    assert got[docs["pass"]["id"]] == "done" and got[docs["flaky"]["id"]] == "done"
    assert got[docs["bad"]["id"]] == got[docs["bug"]["id"]] == got[docs["flaky-for-ever"]["id"]] == "failed"
    assert got[docs["hold"]["id"]] == "hold"
    out = {info.id for info in cfg.backend().queue("out").list()}
    assert out == {docs["pass"]["id"], docs["flaky"]["id"]}
    _, failed = cfg.backend().queue("in").get(docs["flaky-for-ever"]["id"])
    assert failed["meta"]["attempts"] == 3 and [t["ok"] for t in failed["trace"]] == [False] * 3


def test_a_number_json_lines_cannot_carry_does_not_stop_the_worker(tmp_path):
    """A stage's output with an integer beyond 64 bits (a model's reply read by Python's JSON reader gave
    one) could not be written to the spool (orjson), the worker died on it, gave its tasks back, and died
    again on every run: one task stopped the stage for all. It is written as orjson reads such a number."""

    class Big(Stage):
        name = "big"

        def process(self, doc, ctx):
            return {**doc, "result": {"parsed": {"n": 123456789012345678901234567890, "huge": 10**400}}}

    cfg = Config(home=tmp_path, path=None, raw={"queue": {**DEFAULTS["queue"], "url": str(tmp_path / "spool")}})
    docs = [task(), task(data={"subject": "another"})]
    cfg.backend().queue("in").put_many(docs)
    assert Runner(Big(), cfg, RunOptions(source="in", dest="out", once=True)).run() == 0
    assert set(states(cfg).values()) == {"done"}
    _, out = cfg.backend().queue("out").get(docs[0]["id"])
    assert out["result"]["parsed"] == {"n": 1.2345678901234568e29, "huge": None}

def test_a_missing_extra_stops_the_worker_and_gives_every_lease_back(tmp_path):
    cfg = config(tmp_path)
    docs = [task(data={"do": "pass"}), task(data={"do": "missing-extra"})]
    cfg.backend().queue("in").put_many(docs)
    stage = Scripted()
    stage.batch_size = 2  # one batch: the fault gives back the lease of its batch-mate too
    runner = Runner(stage, cfg, RunOptions(source="in", dest="out", once=True))
    assert runner.run() == 69
    assert set(states(cfg).values()) == {"new"}  # the one that would have passed too: no attempt counted
    assert all(d["meta"]["attempts"] == 0 for d in (cfg.backend().queue("in").get(x["id"])[1] for x in docs))


def test_a_worker_that_dies_of_a_bug_exits_70_and_gives_every_lease_back(tmp_path, capsys):
    cfg = config(tmp_path)
    docs = [task(data={"do": "pass"}) for _ in range(3)]
    cfg.backend().queue("in").put_many(docs)

    def bug(*args, **kwargs):
        raise RuntimeError("a bug in passing tasks on")

    cfg.backend().queue("out").put_many = bug  # the memory backend hands the runner this same queue
    assert Runner(Scripted(), cfg, RunOptions(source="in", dest="out", once=True)).run() == 70
    assert "the worker died" in capsys.readouterr().err
    assert set(states(cfg).values()) == {"new"}  # leases given back, no attempt counted
    assert all(d["meta"]["attempts"] == 0 for d in (cfg.backend().queue("in").get(x["id"])[1] for x in docs))


def test_a_second_put_of_an_id_reaches_the_next_queue_once(tmp_path):
    cfg = config(tmp_path)
    doc = task(data={"do": "pass"})
    cfg.backend().queue("in").put_many([doc])
    drain(cfg, Scripted())
    assert cfg.backend().queue("out").put_many([doc]) == []  # a redelivered output: kept once
    assert [info.id for info in cfg.backend().queue("out").list()] == [doc["id"]]


# -- the planner and the policy -------------------------------------------------------------------------

ROUTES = {"r": {"actions": ["notes.append"], "confirm": ["shell.run"],
                "fixed": [{"type": "notes.append", "args": {"note": "Log", "text": "{{ data.subject }}"}}]}}


def routed(route: str | None, proposals: list | None = None, **extra) -> dict:
    doc = task(**extra)
    if route:
        doc["intent"] = {"route": route}
    if proposals is not None:
        doc["result"] = {"parsed": {"actions": proposals}}
    return doc


@pytest.mark.parametrize(("route", "proposal", "status"), [
    ("r", {"type": "notes.append", "args": {"note": "n", "text": "t"}}, "planned"),
    ("r", {"type": "shell.run", "args": {"argv": ["true"]}}, "awaiting_approval"),
    ("r", {"type": "file.write", "args": {"path": "x", "content": "y"}}, "refused"),  # not listed
    ("r", {"type": "notes.append", "args": {"note": "n"}}, "refused"),  # bad arguments
    ("r", {"type": "no.such"}, "refused"),
    ("r", "not an object", "refused"),
    ("r", {"type": {"argv": ["true"]}}, "refused"),  # `scripts/fuzz plan`: a type that is an object raised
    (None, {"type": "notes.append", "args": {"note": "n", "text": "t"}}, "refused"),  # no route: nothing
    ("elsewhere", {"type": "notes.append", "args": {"note": "n", "text": "t"}}, "refused"),
])
def test_a_proposal_is_planned_only_as_its_route_allows(tmp_path, route, proposal, status):
    cfg = config(tmp_path, routes=ROUTES)
    actions = plan(routed(route, [proposal]), cfg)
    assert actions[-1]["status"] == status and actions[-1]["origin"] == "model"


@pytest.mark.parametrize(("actions", "statuses"), [
    (2, ["refused"]),  # `scripts/fuzz plan`: {"actions": 2} raised TypeError in the planner
    ("rm -rf /", ["refused"]),  # one refusal, not one a character
    ({"type": "shell.run", "args": {"argv": ["true"]}}, ["awaiting_approval"]),  # one proposal, still the route's
    ({"type": "file.write", "args": {"path": "x", "content": "y"}}, ["refused"]),
])
def test_actions_that_are_not_a_list_are_planned_as_one_proposal(tmp_path, actions, statuses):
    cfg = config(tmp_path, routes=ROUTES)
    doc = routed("r")
    doc["result"] = {"parsed": {"actions": actions}}
    assert [a["status"] for a in plan(doc, cfg) if a["origin"] == "model"] == statuses


def test_the_plan_ignores_what_the_task_says_and_is_the_same_every_time(tmp_path):
    cfg = config(tmp_path, routes=ROUTES)
    doc = routed("r", [{"type": "shell.run", "args": {"argv": ["true"]}}],
                 actions=[{"type": "shell.run", "args": {"argv": ["rm", "-rf", "/"]}, "status": "planned"}])
    first, second = plan(doc, cfg), plan(doc, cfg)
    assert first == second and [a["args"] for a in first][1] == {"argv": ["true"]}
    assert [a["status"] for a in first] == ["planned", "awaiting_approval"]
    assert first[0]["args"] == {"note": "Log", "text": "hi"}


def test_an_approval_is_for_one_plan(tmp_path):
    cfg = config(tmp_path, routes=ROUTES)
    approvals = Approvals(tmp_path)
    doc = routed("r", [{"type": "shell.run", "args": {"argv": ["true"]}}])
    actions = plan(doc, cfg)
    assert waiting(actions) == ["shell.run"]
    approvals.approve_plan(doc["id"], plan_digest(actions), "fast")
    assert approvals.plan_approved(doc["id"], plan_digest(plan(doc, cfg)))
    doc["result"]["parsed"]["actions"][0]["args"]["argv"] = ["false"]
    assert not approvals.plan_approved(doc["id"], plan_digest(plan(doc, cfg)))
    other = dict(doc, id="OTHER1")
    assert not approvals.plan_approved("OTHER1", plan_digest(plan(other, cfg)))


def test_the_act_stage_holds_until_its_plan_is_approved(tmp_path):
    (tmp_path / "vault").mkdir()
    cfg = config(tmp_path, routes={"r": {"confirm": ["notes.append"]}},
                 actions={"notes": {"vault": str(tmp_path / "vault")}})
    doc = routed("r", [{"type": "notes.append", "args": {"note": "n", "text": "t"}}], meta={"approved": True})
    stage = ActStage()
    ctx = StageContext(cfg, _Log())
    held = stage.process(dict(doc), ctx)
    assert isinstance(held, Hold) and not list((tmp_path / "vault").iterdir())
    Approvals(tmp_path).approve_plan(doc["id"], plan_digest(held.task["actions"]), "fast")
    done = stage.process(dict(doc), ctx)
    assert [a["status"] for a in done["actions"]] == ["done"]
    assert "t" in (tmp_path / "vault" / "n.md").read_text()
    again = stage.process(dict(doc), ctx)  # the journal: done once
    assert again["actions"][0]["result"] == done["actions"][0]["result"]
    assert (tmp_path / "vault" / "n.md").read_text().count("\nt\n") <= 1


class _Log:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def test_a_task_that_failed_after_a_hold_says_why_it_failed_not_why_it_was_held(tmp_path):
    class Breaks(Stage):
        name = "breaks"

        def process(self, task, ctx: StageContext):
            raise PermanentError("the server said no")

    cfg = config(tmp_path)
    inbox = cfg.backend().queue("inbox")
    held_once = task()
    held_once["meta"]["hold_reason"] = "awaiting approval: email.send"  # as a task approved after a hold
    inbox.put(held_once)
    Runner(Breaks(), cfg, RunOptions(source="inbox", once=True)).run()
    [failed] = inbox.list("failed")
    meta = inbox.read(failed)["meta"]
    assert meta["last_error"].endswith("the server said no") and "hold_reason" not in meta


def test_the_error_rate_counts_tasks_that_failed_not_retries_that_then_succeeded():
    import time

    from assist.monitor import rates
    from assist.timeutil import rfc3339

    now = rfc3339(int(time.time() * 1000))
    rows = [{"done_per_min_5m": 2.0}]
    assert rates(rows, [{"event": "retry", "at": now}] * 3)["error_rate"] == 0.0
    assert rates(rows, [])["error_rate"] == 0.0
    assert rates([{"done_per_min_5m": 0.0}], [])["error_rate"] == 0.0
    mixed = rates(rows, [{"event": "failed", "at": now}] * 5)  # 10 done and 5 failed in five minutes
    assert mixed["failed_per_min"] == 1.0 and mixed["error_rate"] == round(1 / 3, 4)


def test_a_state_file_that_is_json_but_not_an_object_is_taken_as_empty(tmp_path):
    import orjson

    from assist.stores.local import AlertBudget, Health, Limits

    (tmp_path / "state").mkdir()
    for name in ("limits.json", "alerts.json", "model-health.json"):
        (tmp_path / "state" / name).write_text("[1, 2]")  # edited by hand, or written by something else
    assert Limits(tmp_path).try_take("send", capacity=2, rate=1.0) == 0.0
    assert AlertBudget(tmp_path).admit(limit=3, period_s=60) == 0
    assert Health(tmp_path).read() == {}
    assert isinstance(orjson.loads((tmp_path / "state" / "limits.json").read_bytes())["send"], list)
