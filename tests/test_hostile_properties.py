"""Property: whatever a task document says about itself, no action outside its route's allowlist runs, and no
`confirm` action runs without a recorded approval. Random documents with arbitrary `actions`, `meta`,
`intent` and model replies go through the real commands (`assist ingest stdin | assist act`, and
straight into `assist act` as a previous stage's output would); the journal and the disk say what ran."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ASSIST, FAST_CONFIG, jsonl

ROUTES = """
[routes.triage]
actions = ["notes.append"]
confirm = ["shell.run", "file.write"]
fixed = [{{type = "notes.append", args = {{note = "Inbox", text = "{{{{ data.subject }}}}"}}}}]

[routes.locked]
confirm = ["notes.append"]

[actions.notes]
vault = "{root}/vault"

[actions.files]
roots = {{docs = "{root}/files"}}

[actions.shell]
allow = [["touch", "{root}/shell-ran"]]

[actions.webhook]
allow = ["http://127.0.0.1:9/*"]
"""
ALLOWED = {"triage": {"notes.append"}, "locked": set()}  # what may run without an approval
KINDS = ["notes.append", "notes.create", "shell.run", "file.write", "webhook.post", "email.send", "calendar.add",
         "gmail.send", "no.such"]


def argument(root: str):
    return st.one_of(
        st.fixed_dictionaries({"argv": st.just(["touch", f"{root}/shell-ran"])}),
        st.fixed_dictionaries({"note": st.sampled_from(["Inbox", "Other", "../escape"]), "text": st.text(max_size=20)}),
        st.fixed_dictionaries({"path": st.sampled_from(["a.txt", "../../etc/x"]), "content": st.text(max_size=10),
                               "root": st.just("docs")}),
        st.fixed_dictionaries({"url": st.just("http://127.0.0.1:9/x"), "body": st.just({})}),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    )


def action(root: str):
    return st.fixed_dictionaries({"type": st.sampled_from(KINDS)}, optional={
        "args": argument(root), "status": st.sampled_from(["planned", "awaiting_approval", "done", "refused"]),
        "key": st.text(min_size=1, max_size=8)})


def document(root: str):
    return st.fixed_dictionaries(
        {"type": st.sampled_from(["email.received", "text", "webhook.x"]),
         "data": st.fixed_dictionaries({"subject": st.sampled_from(["hello", "pay the bill", ""])})},
        optional={
            "intent": st.fixed_dictionaries({"route": st.sampled_from(["triage", "locked", "nope"]),
                                             "by": st.sampled_from(["person", "rule:x", "model:y", "llm"])}),
            "actions": st.lists(action(root), max_size=3),
            "meta": st.fixed_dictionaries({}, optional={"approved": st.booleans(),
                                                        "attempts": st.integers(0, 3),
                                                        "max_attempts": st.integers(1, 3)}),
            "result": st.fixed_dictionaries({"parsed": st.fixed_dictionaries(
                {"actions": st.lists(action(root), max_size=3)})}),
        })


ROOT_PLACEHOLDER = "/ROOT"


def fresh_home() -> tuple[tempfile.TemporaryDirectory, Path]:
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    (root / "vault").mkdir()
    (root / "files").mkdir()
    (root / "home").mkdir()
    (root / "home" / "assist.toml").write_text(FAST_CONFIG + ROUTES.format(root=root))
    return tmp, root


def place(docs: list[dict], root: Path) -> bytes:
    return jsonl(*docs).replace(ROOT_PLACEHOLDER.encode(), str(root).encode())


def what_ran(root: Path) -> list[tuple[str, str]]:
    """(task id, action type) of every action the journal records as done."""
    db = root / "home" / "state" / "actions.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT task, type FROM journal WHERE state = 'done'").fetchall()


def routes_of(root: Path, out: bytes) -> dict[str, str]:
    """Each task's route, from act's output and from what it kept in its queue (held or failed)."""
    tasks = [orjson.loads(line) for line in out.splitlines() if line.strip()]
    queue = root / "home" / "spool" / "act"
    for state in ("hold", "failed"):
        folder = queue / state
        tasks += [orjson.loads(p.read_bytes()) for p in folder.iterdir()] if folder.exists() else []
    return {t["id"]: (t.get("intent") or {}).get("route", "default") for t in tasks}


def env(root: Path) -> dict:
    return {**os.environ, "ASSIST_HOME": str(root / "home")}


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=st.lists(document(ROOT_PLACEHOLDER), min_size=1, max_size=5))
def test_from_an_ingestion_source_nothing_a_document_brings_runs(docs):
    tmp, root = fresh_home()
    with tmp:
        ingest = subprocess.Popen([ASSIST, "ingest", "stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env(root))
        act = subprocess.Popen([ASSIST, "act"], stdin=ingest.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env(root))
        ingest.stdin.write(place(docs, root))
        ingest.stdin.close()
        act.communicate(timeout=120)
        ingest.wait(timeout=60)
        assert what_ran(root) == []  # sent from outside, a task has no route: nothing may run
        assert not (root / "shell-ran").exists() and not any((root / "vault").iterdir())


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=st.lists(document(ROOT_PLACEHOLDER), min_size=1, max_size=5))
def test_from_a_stage_only_the_routes_allowlist_runs_and_no_confirm_without_approval(docs):
    tmp, root = fresh_home()
    with tmp:
        done = subprocess.run([ASSIST, "act"], input=place(docs, root), capture_output=True, timeout=120,
                              env=env(root))
        assert b"Traceback" not in done.stderr, done.stderr.decode()
        ran = what_ran(root)
        routes = routes_of(root, done.stdout)
        for task_id, kind in ran:
            assert kind in ALLOWED.get(routes[task_id], set()), (task_id, kind, routes[task_id])
        assert not (root / "shell-ran").exists()  # shell.run is a confirm action: never without an approval
        assert not any((root / "files").iterdir())  # file.write too
        assert not list(root.parent.glob("escape*"))
