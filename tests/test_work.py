"""`assist work`: the stages in one process give the same outcomes as the piped commands."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from conftest import FAST_CONFIG, free_port, jsonl, run

CONFIG = FAST_CONFIG + """
[[rules]]
name = "shopping"
route = "todo"
match = {field = "data.text", contains = "buy"}

[[rules]]
name = "greeting"
route = "hello"
match = {field = "data.text", regex = "^(hi|hello)"}

[[rules]]
name = "rest"
route = "log"
match = {field = "type", equals = "text"}

[routes.todo]
template = "action-items"
actions = ["notes.append"]

[[routes.todo.fixed]]
type = "notes.append"
args.note = "Todo"
args.text = "to do: {% for i in parsed['items'] %}{{ i.task }}; {% endfor %}"

[routes.hello]
template = "echo"

[routes.log]
actions = ["notes.append"]
fixed = [{type = "notes.append", args = {note = "Log", text = "logged"}}]

[models.embedded]
backend = "llamacpp"
seed = 3

[actions.notes]
vault = "VAULT"
"""

TASKS = [{"id": f"01JT00000000000000000000{i:02d}", "type": "text", "data": {"text": t}}
         for i, t in enumerate(["please buy milk and eggs", "hello there", "the meeting notes are attached",
                                "buy a birthday present for Sam by Friday"])]


def make_home(root: Path, gguf: Path) -> dict[str, str]:
    root.mkdir()
    (root / "models").mkdir()
    (root / "models" / gguf.name).symlink_to(gguf)
    (root / "assist.toml").write_text(CONFIG.replace("VAULT", str(root / "vault")))
    return {**os.environ, "ASSIST_HOME": str(root)}


def outcome(task: dict) -> tuple:
    return (task["id"], task["intent"]["route"], task["intent"]["by"],
            (task.get("result") or {}).get("text"),
            tuple((a["type"], a["status"]) for a in task.get("actions", [])),
            tuple(t["stage"] for t in task["trace"] if t["ok"]))


def test_work_matches_the_piped_commands(tmp_path, gguf, monkeypatch):
    results = {}
    # 1. piped commands
    monkeypatch.setattr(os, "environ", make_home(tmp_path / "piped", gguf))
    out = jsonl(*TASKS)
    for stage in ("classify", "prompt", "run", "act"):
        step = run([stage], input=out)
        assert step.code == 0, step.err
        out = step.out.encode()
    results["piped"] = sorted(outcome(orjson.loads(line)) for line in out.splitlines())
    # 2. one command per stage, queue to queue, as cron would run them
    monkeypatch.setattr(os, "environ", make_home(tmp_path / "stages", gguf))
    assert run(["enqueue", "--queue", "inbox"], input=jsonl(*TASKS)).code == 0
    for stage, source, dest in (("classify", "inbox", "prompt"), ("prompt", "prompt", "run"), ("run", "run", "act"),
                                ("act", "act", "done")):
        step = run([stage, "--from", source, "--to", dest, "--once"])
        assert step.code == 0, step.err
    staged = [orjson.loads(p.read_bytes()) for p in (tmp_path / "stages" / "spool" / "done" / "new").glob("*.json")]
    results["stages"] = sorted(outcome(t) for t in staged)
    # 3. assist work on stdin
    monkeypatch.setattr(os, "environ", make_home(tmp_path / "work", gguf))
    worked = run(["work"], input=jsonl(*TASKS))
    assert worked.code == 0, worked.err
    results["work"] = sorted(outcome(t) for t in worked.lines)
    # 4. assist work from a queue
    monkeypatch.setattr(os, "environ", make_home(tmp_path / "queued", gguf))
    assert run(["enqueue", "--queue", "inbox"], input=jsonl(*TASKS)).code == 0
    drained = run(["work", "--from", "inbox", "--to", "done", "--once"])
    assert drained.code == 0, drained.err
    queued = [orjson.loads(p.read_bytes()) for p in (tmp_path / "queued" / "spool" / "done" / "new").glob("*.json")]
    results["queued"] = sorted(outcome(t) for t in queued)

    assert results["piped"] == results["stages"] == results["work"] == results["queued"]
    by_id = {r[0]: r for r in results["work"]}
    assert by_id[TASKS[0]["id"]][1] == "todo" and by_id[TASKS[1]["id"]][1] == "hello"
    assert by_id[TASKS[2]["id"]][3] is None  # the log route asks no model
    assert by_id[TASKS[0]["id"]][5] == ("classify", "prompt", "run", "act")
    for home in ("piped", "stages", "work", "queued"):
        lines = [x for x in (tmp_path / home / "vault" / "Todo.md").read_text().splitlines() if "to do:" in x]
        assert len(lines) == 2 and all(len(x) > len("to do: ") for x in lines)  # filled from the parsed reply
        piped = (tmp_path / "piped" / "vault" / "Todo.md").read_text().splitlines()
        assert lines == [x for x in piped if "to do:" in x]


def test_a_task_resumes_at_the_stage_where_it_stopped(tmp_path, gguf, monkeypatch):
    env = make_home(tmp_path / "h", gguf)
    monkeypatch.setattr(os, "environ", env)
    config = tmp_path / "h" / "assist.toml"
    local = config.read_text()
    # the model's server is down: run fails, and the task is retried later
    config.write_text(local.replace('backend = "llamacpp"', f'backend = "openai"\nurl = "http://127.0.0.1:{free_port()}/v1"'))
    assert run(["enqueue", "--queue", "inbox"], input=jsonl(TASKS[1])).code == 0
    first = run(["work", "--from", "inbox", "--to", "done", "--once"])
    assert first.code == 0, first.err  # retried later, not failed
    [listed] = run(["queue", "ls", "--queue", "inbox", "--json"]).json()
    task = run(["queue", "show", listed["id"]]).json()["task"]
    assert task["intent"]["route"] == "hello" and "prompt" in task and "result" not in task
    assert task["trace"][-1]["stage"] == "run" and "cannot reach" in task["trace"][-1]["error"]
    config.write_text(local)  # the embedded model instead
    import time

    time.sleep(0.3)  # past the retry's backoff
    second = run(["work", "--from", "inbox", "--to", "done", "--once"])
    assert second.code == 0, second.err
    [done] = [orjson.loads(p.read_bytes()) for p in (tmp_path / "h" / "spool" / "done" / "new").glob("*.json")]
    stages = [(t["stage"], t["ok"]) for t in done["trace"]]
    # classified and prompted once; resumed at run. (The first run may have tried run more than once: a
    # worker that comes back after the 25-50 ms backoff claims the task again.)
    assert stages[:2] == [("classify", True), ("prompt", True)]
    assert stages.count(("classify", True)) == 1 and stages.count(("prompt", True)) == 1
    assert stages[-2:] == [("run", True), ("act", True)]
    assert len(stages) > 4 and set(stages[2:-2]) == {("run", False)}


def test_a_model_not_pulled_stops_the_worker_and_keeps_its_tasks(tmp_path, gguf, monkeypatch):
    monkeypatch.setattr(os, "environ", make_home(tmp_path / "h", gguf))
    (tmp_path / "h" / "models" / gguf.name).unlink()
    assert run(["enqueue", "--queue", "inbox"], input=jsonl(*TASKS[:2])).code == 0
    stopped = run(["work", "--from", "inbox", "--to", "done", "--once"])
    # no task can succeed before a model is pulled: one line saying how (69), not a retry of each task
    # until it fails
    assert stopped.code == 69 and "assist models pull" in stopped.err and "Traceback" not in stopped.err
    listed = run(["queue", "ls", "--queue", "inbox", "--json"]).json()
    assert sorted(t["id"] for t in listed) == [t["id"] for t in TASKS[:2]]
    assert {t["state"] for t in listed} == {"new"}  # not failed, not counted as an attempt


def test_stages_are_checked(home, cli):
    bad = cli(["work", "--stages", "classify,think"])
    assert bad.code == 2 and "unknown stage(s) think" in bad.err
    order = cli(["work", "--stages", "run,classify"])
    assert order.code == 2 and "in the order classify, prompt, run, act" in order.err


def test_a_second_cron_worker_steps_aside_while_one_drains_the_queue(home):
    """cron starts `assist work --from inbox --once` every five minutes (`assist init`'s lines). A
    backlog takes hours, and every tick started one more worker on the same queue, each loading the
    model (2.4 GB) on the same two cores, until memory ran out. A `--once` worker that finds another one
    draining its queue on this machine steps aside at once (exit 0, said); the one draining takes what
    arrives meanwhile too. Here the first worker is busy in a webhook that answers when the test says."""
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from conftest import ASSIST, wait_for

    release, calls = threading.Event(), []

    class Held(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(self.path)
            release.wait(60)
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Held)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (home / "assist.toml").write_text(FAST_CONFIG + f'[routes.hook]\nactions = ["webhook.post"]\n'
                                      f'fixed = [{{type = "webhook.post", args = {{url = "{url}/t", body = {{}}}}}}]\n'
                                      f'[actions.webhook]\nallow = ["{url}/*"]\n')
    tasks = [{"type": "tick", "data": {"n": n}, "intent": {"route": "hook"}} for n in range(5)]
    assert run(["enqueue", "--queue", "inbox"], jsonl(*tasks)).code == 0
    first = subprocess.Popen([ASSIST, "work", "--from", "inbox", "--once", "--stages", "act", "-j", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: calls, what="the first worker at work", timeout=120)
        second = run(["work", "--from", "inbox", "--once", "--stages", "act"])
        assert second.code == 0, second.err
        assert "another worker is draining queue inbox on this machine" in second.err, second.err
        assert len(second.err.strip().splitlines()) == 1  # that line, and nothing it did
    finally:
        release.set()
        first.wait(120)
        server.shutdown()
    assert first.returncode == 0, first.stderr.read()
    assert run(["work", "--from", "inbox", "--once", "--stages", "act"]).code == 0  # the next tick: none left
    assert len(run(["queue", "ls", "--queue", "inbox", "--state", "done", "--json"]).json()) == 5


def test_a_worker_that_cannot_take_the_draining_lock_drains_all_the_same(home):
    """The lock a `--once` worker steps aside by cannot be had (its file cannot be made: here a folder
    stands in its way): the worker says so in its log and drains the queue as before, rather than stop."""
    assert run(["enqueue", "--queue", "q"], jsonl({"type": "t"}, {"type": "t"})).code == 0
    (home / "state" / "draining-passthrough-q.lock").mkdir(parents=True)
    r = run(["stage", "passthrough", "--from", "q", "--once"])
    assert r.code == 0 and "Traceback" not in r.err, r.err
    assert len(run(["queue", "ls", "--queue", "q", "--state", "done", "--json"]).json()) == 2
    assert "draining_unlocked" in (home / "logs" / "passthrough.jsonl").read_text()
