"""The stage runner: stdin and queue modes, retries, dead letters, timeouts, holds, cancellation, --follow."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import orjson
import pytest

from assist.config_file import load
from assist.errors import PermanentError, TemporaryError
from assist.stages.base import Hold, Stage
from assist.stages.runner import Runner, RunOptions
from conftest import ASSIST, jsonl, run


def names(home, queue, state):
    path = home / "spool" / queue / state
    return sorted(n for n in os.listdir(path) if n.endswith(".json")) if path.exists() else []


def docs(home, queue, state):
    return [orjson.loads((home / "spool" / queue / state / n).read_bytes()) for n in names(home, queue, state)]


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- through the command ------------------------------------------------------------------------------


def test_finished_tasks_keep_no_content_in_done(home):
    # what the actions carried too: a drafted reply, a note of the mail, a file of it (a route's template
    # can put the body itself there); where they went, and how they ended, are kept
    acted = [{"type": "email.draft", "args": {"to": "a@b", "subject": "Re: hello", "body": "about the secret plan"},
              "origin": "model", "status": "done", "key": "k1", "result": {"folder": "Drafts"}, "error": None},
             {"type": "notes.append", "args": {"note": "Inbox", "text": "hello: the secret plan"},
              "origin": "route", "status": "done", "key": "k2", "result": None, "error": None},
             {"type": "file.write", "args": {"path": "mail.txt", "content": "the secret plan"},
              "origin": "route", "status": "refused", "key": "k3", "result": None, "error": "no roots"},
             {"type": "calendar.add", "args": {"summary": "Plan", "start": "2026-12-01T09:00:00Z",
                                               "description": "the secret plan"},
              "origin": "model", "status": "done", "key": "k4", "result": None, "error": None}]
    mail = {"type": "email", "data": {"subject": "hello", "body_text": "the secret plan", "from": "a@b"},
            "result": {"text": "a reply quoting the secret plan", "model": "m", "ms": 5}, "actions": acted}
    run(["enqueue", "--queue", "in"], jsonl(mail, {"type": "t", "data": {"n": 1}}))
    assert run(["stage", "passthrough", "--from", "in", "--to", "out", "--once"]).code == 0
    assert run(["stage", "passthrough", "--from", "out", "--once"]).code == 0
    for queue in ("in", "out"):  # passed on, then finished: neither done/ keeps the body or the reply
        email, plain = sorted(docs(home, queue, "done"), key=lambda d: d["type"])
        assert "body_text" not in email["data"] and "text" not in email["result"]
        assert email["data"]["subject"] == "hello" and email["result"]["model"] == "m"
        assert email["meta"]["content_removed"] == ["data.body_text", "result.text", "actions.args.body",
                                                     "actions.args.text", "actions.args.content",
                                                     "actions.args.description"]
        assert [a["args"] for a in email["actions"]] == [
            {"to": "a@b", "subject": "Re: hello"}, {"note": "Inbox"}, {"path": "mail.txt"},
            {"summary": "Plan", "start": "2026-12-01T09:00:00Z"}]
        assert [(a["type"], a["status"], a["key"]) for a in email["actions"]] == [
            (a["type"], a["status"], a["key"]) for a in acted]
        assert plain["data"] == {"n": 1} and "content_removed" not in plain["meta"]
        raw = b"".join((home / "spool" / queue / "done" / n).read_bytes() for n in names(home, queue, "done"))
        assert b"secret plan" not in raw
    (home / "assist.toml").write_text("[queue]\nkeep_content = true\n")
    run(["enqueue", "--queue", "kept"], jsonl(mail))
    assert run(["stage", "passthrough", "--from", "kept", "--once"]).code == 0
    [kept] = docs(home, "kept", "done")
    assert kept["data"]["body_text"] == "the secret plan" and "content_removed" not in kept["meta"]
    assert kept["actions"] == acted


def test_stdin_to_stdout_keeps_order_and_adds_a_trace(home):
    r = run(["stage", "passthrough"], jsonl(*({"type": "text", "data": {"n": i}} for i in range(100))))
    assert r.code == 0, r.err
    out = r.lines
    assert [d["data"]["n"] for d in out] == list(range(100))
    assert all(d["trace"][-1]["stage"] == "passthrough" and d["trace"][-1]["ok"] for d in out)
    assert all(len(d["id"]) == 26 for d in out)


def test_stdin_bad_lines_are_named_and_the_rest_go_on(home):
    r = run(["stage", "passthrough"], b'{"type": "a"}\nnot json\n{"type": "b"}\n')
    assert r.code == 65
    assert [d["type"] for d in r.lines] == ["a", "b"]
    assert "line 2: invalid JSON" in r.err


def test_from_queue_to_queue(home):
    run(["enqueue", "--queue", "in"], jsonl(*({"type": "t", "data": {"n": i}} for i in range(50))))
    r = run(["stage", "passthrough", "--from", "in", "--to", "out", "--once", "--concurrency", "4"])
    assert r.code == 0, r.err
    assert len(names(home, "in", "done")) == 50 and names(home, "in", "new") == []
    forwarded = docs(home, "out", "new")
    assert sorted(d["data"]["n"] for d in forwarded) == list(range(50))
    assert all(d["meta"]["attempts"] == 0 and d["trace"][-1]["stage"] == "passthrough" for d in forwarded)


def test_from_queue_to_stdout_keeps_the_result_in_done(home):
    run(["enqueue", "--queue", "in"], jsonl({"type": "t"}))
    r = run(["stage", "passthrough", "--from", "in"])
    assert r.code == 0 and r.lines[0]["type"] == "t"
    [done] = docs(home, "in", "done")
    assert done["trace"][-1]["stage"] == "passthrough"


def test_timeout_retries_then_dead_letters(home):
    (home / "assist.toml").write_text('[queue]\nmax_attempts = 2\nbackoff_base = "10ms"\nbackoff_max = "20ms"\n')
    run(["enqueue", "--queue", "in"], jsonl({"type": "slow"}))
    deadline = time.monotonic() + 30
    code = None
    while time.monotonic() < deadline and not names(home, "in", "failed"):
        code = run(["stage", "passthrough", "--from", "in", "--to", "out", "--sleep", "5", "--timeout", "0.2"]).code
        time.sleep(0.05)
    assert code == 1
    [failed] = docs(home, "in", "failed")
    assert failed["meta"]["attempts"] == 2 and failed["meta"]["last_error"] == "timed out after 0.2s"
    assert [t["ok"] for t in failed["trace"]] == [False, False]
    assert names(home, "out", "new") == []


def test_follow_waits_for_new_tasks_and_stops_on_sigterm(home):
    worker = subprocess.Popen([ASSIST, "stage", "passthrough", "--from", "in", "--to", "out", "--follow"],
                              stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        run(["enqueue", "--queue", "in"], jsonl({"type": "first"}))
        assert wait_for(lambda: len(names(home, "out", "new")) == 1)
        run(["enqueue", "--queue", "in"], jsonl({"type": "second"}, {"type": "third"}))
        assert wait_for(lambda: len(names(home, "out", "new")) == 3)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=20)
    assert code == 0, worker.stderr.read().decode()
    assert {d["type"] for d in docs(home, "out", "new")} == {"first", "second", "third"}


def test_cancel_of_a_running_task_is_noticed_and_its_result_dropped(home):
    (home / "assist.toml").write_text('[queue]\nlease = "600ms"\n')
    run(["enqueue", "--queue", "in"], jsonl({"type": "slow", "id": "SLOW1"}))
    worker = subprocess.Popen([ASSIST, "stage", "passthrough", "--from", "in", "--to", "out", "--sleep", "3"])
    assert wait_for(lambda: len(names(home, "in", "cur")) == 1)
    r = run(["queue", "cancel", "SLOW1"])
    assert r.code == 0 and "was cur" in r.out
    assert worker.wait(timeout=30) == 0
    assert names(home, "in", "cancelled") == ["SLOW1.json"]
    assert names(home, "out", "new") == [] and names(home, "in", "done") == []
    log = (home / "logs" / "passthrough.jsonl").read_text()
    assert '"event":"lease_lost"' in log and '"event":"dropped"' in log


# -- in process, with stages that fail on purpose ---------------------------------------------------------

class Flaky(Stage):
    """Fails with a temporary error the first `fails` times it sees each task."""

    name = "flaky"

    def __init__(self, fails: int):
        self.fails = fails
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def process(self, task, ctx):
        with self.lock:
            self.seen[task["id"]] = self.seen.get(task["id"], 0) + 1
            count = self.seen[task["id"]]
        if task["data"].get("poison"):
            raise PermanentError("cannot handle this one")
        if task["data"].get("bug"):
            raise KeyError("oops")
        if task["data"].get("hold"):
            return Hold(task, "needs a person")
        if count <= self.fails:
            raise TemporaryError("server busy")
        task["result"] = {"text": "ok"}
        return task


def run_until_empty(home, stage, source="in", dest="out"):
    config = load(home)
    total = {"ok": 0, "failed": 0, "held": 0}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runner = Runner(stage, config, RunOptions(source=source, dest=dest, once=True))
        runner.run()
        for key in total:
            total[key] += getattr(runner.counts, key)
        q = config.backend().queue(source)
        if not names(home, source, "new") and not names(home, source, "cur"):
            break
        q.wait(0.05)
    return total


def put(home, *docs_, queue="in"):
    r = run(["enqueue", "--queue", queue], jsonl(*docs_))
    assert r.code == 0


def test_temporary_errors_are_retried_until_they_pass(home):
    put(home, *({"type": "t", "data": {"n": i}} for i in range(5)))
    totals = run_until_empty(home, Flaky(fails=2))
    assert totals["ok"] == 5 and totals["failed"] == 0
    out = docs(home, "out", "new")
    assert all(d["result"] == {"text": "ok"} for d in out)
    assert all([t["ok"] for t in d["trace"]] == [False, False, True] for d in out)


def test_permanent_errors_bugs_and_exhausted_retries_go_to_failed(home):
    put(home, {"type": "t", "data": {"poison": True}}, {"type": "t", "data": {"bug": True}},
        {"type": "t", "data": {"n": 1}})
    totals = run_until_empty(home, Flaky(fails=99))
    assert totals["failed"] == 3 and totals["ok"] == 0
    errors = sorted(d["meta"]["last_error"] for d in docs(home, "in", "failed"))
    assert errors == ["KeyError: 'oops'", "cannot handle this one", "server busy"]
    by_error = {d["meta"]["last_error"]: d["meta"]["attempts"] for d in docs(home, "in", "failed")}
    assert by_error["cannot handle this one"] == 1 and by_error["server busy"] == 5


def test_hold_parks_the_task(home):
    put(home, {"type": "t", "data": {"hold": True}})
    totals = run_until_empty(home, Flaky(fails=0))
    assert totals["held"] == 1
    [held] = docs(home, "in", "hold")
    assert held["meta"]["hold_reason"] == "needs a person"


def test_stdin_mode_dead_letters_into_the_stage_queue(home, monkeypatch):
    import io
    import sys

    data = jsonl({"type": "t", "data": {"poison": True}}, {"type": "t", "data": {"n": 2}})
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.FileIO(read_fd)))
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    runner = Runner(Flaky(fails=1), load(home), RunOptions())
    assert runner.run() == 1
    sys.stdout.flush()
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert [d["data"]["n"] for d in lines] == [2]
    [dead] = docs(home, "flaky", "failed")
    assert dead["data"]["poison"] is True and dead["meta"]["last_error"] == "cannot handle this one"


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_delivers_each_task_once(home, concurrency):
    put(home, *({"type": "t", "data": {"n": i}} for i in range(300)))
    runner = Runner(Flaky(fails=0), load(home), RunOptions(source="in", dest="out", concurrency=concurrency))
    assert runner.run() == 0
    assert runner.counts.ok == 300
    assert sorted(d["data"]["n"] for d in docs(home, "out", "new")) == list(range(300))


def test_a_reader_that_goes_away_loses_nothing(home):
    """`... | assist classify | next-stage` where next-stage has died: classify cannot deliver, so it keeps
    every task in its own queue for the next run, says so and exits 75 (docs/exit-codes.md)."""
    (home / "assist.toml").write_text('[routes.notes]\n[[rules]]\nname = "all"\nroute = "notes"\n'
                                      'match = {field = "type", equals = "text"}\n')
    tasks = [{"type": "text", "data": {"text": f"t{n}"}} for n in range(3)]
    stage = subprocess.Popen([ASSIST, "classify"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    stage.stdout.close()  # the next stage is gone before anything reaches it
    _, err = stage.communicate(jsonl(*tasks), timeout=60)
    assert stage.returncode == 75 and b"the reader of stdout went away" in err, err
    kept = docs(home, "classify", "new")
    assert sorted(d["data"]["text"] for d in kept) == ["t0", "t1", "t2"]
    r = run(["classify", "--from", "classify", "--once"])  # the next run delivers them
    assert r.code == 0 and sorted(t["data"]["text"] for t in r.lines) == ["t0", "t1", "t2"]
    assert all(t["intent"]["route"] == "notes" for t in r.lines)
