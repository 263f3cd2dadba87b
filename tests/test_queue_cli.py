"""The `assist queue` commands end to end, as subprocesses, with --json parsed back."""

from __future__ import annotations

import os

from assist.config_file import load
from conftest import jsonl, run


def enqueue(*docs, queue="inbox"):
    r = run(["enqueue", "--queue", queue], jsonl(*docs))
    assert r.code == 0, r.err


def ls(*args):
    r = run(["queue", "ls", "--json", *args])
    assert r.code == 0, r.err
    return r.json()


def test_ls_json_lists_tasks_in_service_order(home):
    enqueue({"type": "a", "priority": 7}, {"type": "b", "priority": 1}, {"type": "c"})
    rows = ls()
    assert [r["type"] for r in rows] == ["b", "c", "a"]
    assert {r["state"] for r in rows} == {"new"} and {r["queue"] for r in rows} == {"inbox"}
    assert all(r["attempts"] == 0 and r["created"].endswith("Z") for r in rows)


def test_ls_table_is_aligned_and_empty_spool_says_so(home):
    r = run(["queue", "ls"])
    assert r.code == 0 and "no queues yet" in r.out
    enqueue({"type": "email.received"})
    r = run(["queue", "ls"])
    header, row = r.out.splitlines()
    assert header.split() == ["ID", "QUEUE", "STATE", "PRI", "TYPE", "TRIES", "AGE", "ABOUT", "INFO"]
    assert row.index("inbox") == header.index("QUEUE") and row.index("email.received") == header.index("TYPE")
    enqueue({"type": "email.received", "data": {"subject": "Lunch   on\nFriday?", "from": "ann@example.org"}},
            {"type": "text", "data": {"text": "call mum about the " + "very " * 20 + "long weekend"}})
    header, *rows = run(["queue", "ls"]).out.splitlines()
    about = [row[header.index("ABOUT"):header.index("INFO")].strip() for row in rows]
    assert "Lunch on Friday?" in about  # the subject, on one line
    assert "call mum about the very very ve…" in about  # the start of a text, cut at the column


def test_show_by_unique_prefix_and_ambiguous_prefix(home):
    enqueue({"type": "x", "id": "ABCD1234"}, {"type": "y", "id": "ABCE9999"})
    r = run(["queue", "show", "ABCD"])
    assert r.code == 0, r.err
    shown = r.json()
    assert shown["state"] == "new" and shown["task"]["type"] == "x" and shown["task"]["id"] == "ABCD1234"
    r = run(["queue", "show", "ABC"])
    assert r.code == 2 and "ambiguous" in r.err and "ABCD1234" in r.err
    r = run(["queue", "show", "ZZZ"])
    assert r.code == 2 and "no task with an id starting 'ZZZ'" in r.err


def test_cancel_then_retry(home):
    enqueue({"type": "x", "id": "T1"})
    r = run(["queue", "cancel", "T1"])
    assert r.code == 0 and "was new" in r.out
    assert ls("--state", "cancelled")[0]["id"] == "T1"
    r = run(["queue", "cancel", "T1"])
    assert r.code == 1 and "already cancelled" in r.err
    assert run(["queue", "retry", "T1"]).code == 0
    assert ls()[0]["state"] == "new"


def test_retry_failed_approve_and_reject_held(home):
    enqueue({"type": "x", "id": "F1"}, {"type": "x", "id": "F2"}, {"type": "y", "id": "H1"}, {"type": "y", "id": "H2"})
    q = load().backend().queue("inbox")
    leases = {lease.id: lease for lease in q.claim(4)}
    q.nack(leases["F1"], "model said no", permanent=True)
    q.nack(leases["F2"], "model said no", permanent=True)
    q.hold(leases["H1"], dict(leases["H1"].doc, actions=[
        {"type": "email.send", "args": {"to": "a@b.c"}, "status": "awaiting_approval"}]), "confirm")
    q.hold(leases["H2"], leases["H2"].doc, "confirm")

    failed = ls("--state", "failed")
    assert {r["id"] for r in failed} == {"F1", "F2"} and failed[0]["last_error"] == "model said no"
    held = ls("--state", "hold")
    assert held[0]["awaiting"] == [{"type": "email.send", "args": {"to": "a@b.c"}}]
    table = run(["queue", "ls", "--state", "hold"]).out
    assert "would run: email.send" in table

    r = run(["queue", "retry", "--failed"])
    assert r.code == 0 and "retried 2" in r.out
    assert run(["queue", "approve", "H1"]).code == 0
    assert run(["queue", "reject", "H2", "--reason", "spam"]).code == 0
    assert run(["queue", "approve", "H2"]).code == 1  # no longer held
    states = {r["id"]: r["state"] for r in ls("--state", "all")}
    assert states == {"F1": "new", "F2": "new", "H1": "new", "H2": "cancelled"}
    approved = [lease for lease in q.claim(3) if lease.id == "H1"]
    assert "approved" not in approved[0].doc["meta"]  # never in the document: in the home's records
    from assist.act.approvals import plan_digest
    from assist.stores import open_stores

    approvals = open_stores(load()).approvals
    assert approvals.plan_approved("H1", plan_digest(approved[0].doc["actions"]))
    [record] = approvals.of("H1")
    assert record["kind"] == "plan" and record["by"].startswith("cli:")


def test_stats_purge_and_reap_json(home):
    enqueue(*({"type": "x"} for _ in range(4)))
    q = load().backend().queue("inbox")
    for lease in q.claim(2):
        q.ack(lease)
    r = run(["queue", "stats", "--json"])
    [stats] = r.json()
    assert stats["queue"] == "inbox" and stats["depth"]["done"] == 2 and stats["ready"] == 2
    assert stats["done_last_1m"] == 2 and stats["oldest_ready_age_s"] >= 0
    assert "INBOX" not in run(["queue", "stats"]).out and "inbox" in run(["queue", "stats"]).out
    r = run(["queue", "reap", "--json"])
    assert r.json()["inbox"]["requeued"] == 0
    r = run(["queue", "purge", "--state", "done", "--older-than", "0s"])
    assert r.code == 0 and "purged 2" in r.out
    assert os.listdir(home / "spool" / "inbox" / "done") == []
    assert run(["queue", "purge", "--older-than", "soon"]).code == 2


def test_unknown_queue_and_state_are_usage_errors(home):
    enqueue({"type": "x"})
    assert run(["queue", "ls", "--queue", "nope"]).code == 2
    r = run(["queue", "ls", "--state", "sleeping"])
    assert r.code == 2 and "unknown state" in r.err


def test_a_queue_url_of_no_known_kind_is_a_config_error_not_a_folder_of_that_name(home):
    """A mistyped redis:// URL used to become a spool folder named after it, under the home: the tasks
    stayed on this machine while the workers waited on Redis."""
    r = run(["--queue-url", "redsi://127.0.0.1:6379/0", "enqueue", "--queue", "in"], jsonl({"type": "a"}))
    assert r.code == 78 and "redsi://127.0.0.1:6379/0" in r.err and "redis://" in r.err, r.err
    (home / "assist.toml").write_text('[queue]\nurl = "ftp://example.org/spool"\n')
    r = run(["queue", "ls"])
    assert r.code == 78 and "ftp://example.org/spool" in r.err, r.err
    r = run(["config", "check"])
    assert r.code == 78 and "queue.url: ftp://example.org/spool: of no kind" in r.err, r.err
    assert not [p for p in home.iterdir() if p.name.startswith(("redsi", "ftp"))]
    (home / "assist.toml").write_text('[queue]\nurl = "my-spool"\n')  # a folder, relative to the home
    assert run(["enqueue", "--queue", "in"], jsonl({"type": "a"})).code == 0
    assert len(os.listdir(home / "my-spool" / "in" / "new")) == 1


def test_retention_by_purge_and_by_a_follow_worker(home):
    import subprocess
    import time

    from conftest import ASSIST

    (home / "assist.toml").write_text('[queue]\nkeep_done_max = 2\nlease = "10s"\n[logs]\nkeep = "1d"\n')
    logs = home / "logs"
    logs.mkdir()
    old, recent = logs / "work.jsonl.2", logs / "work.jsonl.1"
    for path in (old, recent):
        path.write_text('{"event": "x"}\n')
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    enqueue(*({"type": "t", "data": {"n": i}} for i in range(5)))
    assert run(["stage", "passthrough", "--from", "inbox", "--once"]).code == 0
    done = home / "spool" / "inbox" / "done"
    assert len(os.listdir(done)) == 5
    r = run(["queue", "purge"])
    assert r.code == 0 and "removed 3 finished task(s) and 1 old log file(s)" in r.out, r.out
    assert len(os.listdir(done)) == 2 and not old.exists() and recent.exists()

    # a --follow worker applies the same rules as it goes
    os.utime(recent, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    worker = subprocess.Popen([ASSIST, "stage", "passthrough", "--from", "inbox", "--follow"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        enqueue(*({"type": "t", "data": {"n": i}} for i in range(4)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(os.listdir(done)) != 2 or recent.exists()
                                               or os.listdir(home / "spool" / "inbox" / "new")):
            time.sleep(0.2)
    finally:
        worker.terminate()
        assert worker.wait(timeout=20) == 0
    assert len(os.listdir(done)) == 2 and not recent.exists()
