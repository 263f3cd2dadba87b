"""`assist enqueue` as a subprocess: good lines go in, bad lines are named, nothing is lost."""

from __future__ import annotations

import os

import orjson

from conftest import jsonl, run


def queue_files(home, queue="inbox", state="new"):
    return sorted(os.listdir(home / "spool" / queue / state))


def test_enqueue_fills_in_ids_and_meta(home):
    r = run(["enqueue"], jsonl({"type": "text", "data": {"text": "hello"}}))
    assert r.code == 0, r.err
    assert r.json() == {"queue": "inbox", "enqueued": 1, "duplicates": 0, "bad_lines": 0, "last_line": 1}
    [name] = queue_files(home)
    doc = orjson.loads((home / "spool" / "inbox" / "new" / name).read_bytes())
    assert len(doc["id"]) == 26 and doc["priority"] == 5 and doc["source"] == "stdin"
    assert doc["meta"] == {"attempts": 0, "max_attempts": 5}
    assert doc["created"].endswith("Z")


def test_mixed_bad_input_exits_65_names_each_bad_line_and_keeps_every_good_one(home, tmp_path):
    good = [{"type": "text", "data": {"n": i}} for i in range(5)]
    lines = [
        orjson.dumps(good[0]),
        b'{"type": "text", "data": ',  # 2: invalid JSON
        orjson.dumps(good[1]),
        orjson.dumps({"type": 42}),  # 4: schema: type not a string
        orjson.dumps({"data": {}}),  # 5: schema: no type
        b"[1, 2, 3]",  # 6: not an object
        orjson.dumps(good[2]),
        b'{"type": "text", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}',  # 8: a 10 MB line
        orjson.dumps(good[3]),
        bytes(b for b in range(256) if b != 10) * 4,  # 10: binary garbage (no newline in it)
        b"\xff\xfe{\"type\": \"text\"}",  # 11: not UTF-8
        b"",  # blank lines are skipped silently
        orjson.dumps(good[4]),
    ]
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_bytes(b'{"from": "a run a crash cut')  # the first line kept here does not join it
    r = run(["enqueue", "--rejects", str(rejects)], b"\n".join(lines) + b"\n")
    assert r.code == 65
    assert r.json()["enqueued"] == 5 and r.json()["bad_lines"] == 7
    reported = {int(line.split("line ")[1].split(":")[0]) for line in r.err.splitlines() if "line " in line}
    assert reported == {2, 4, 5, 6, 8, 10, 11}
    assert "longer than 1048576 bytes" in r.err
    assert "invalid JSON" in r.err and "not a task" in r.err and "expected a JSON object" in r.err
    stored = [orjson.loads((home / "spool" / "inbox" / "new" / n).read_bytes())["data"] for n in queue_files(home)]
    assert sorted(d["n"] for d in stored) == [0, 1, 2, 3, 4]
    kept = rejects.read_bytes().split(b"\n")
    assert kept[:2] == [b'{"from": "a run a crash cut', b'{"type": "text", "data": '] and b"[1, 2, 3]" in kept


def test_rejects_can_go_to_a_stream(home):
    """--rejects /dev/stderr (or a pipe) is written to as it is: a stream has no last line to look at."""
    r = run(["enqueue", "--rejects", "/dev/stderr"], b'{"type": "text"}\nnot json\n')
    assert r.code == 65 and r.json()["enqueued"] == 1 and "Traceback" not in r.err
    assert "not json\n" in r.err.split("line 2:")[1]  # reported, then the line itself kept on the stream


def test_priority_and_delay_flags(home):
    r = run(["enqueue", "--queue", "later", "--priority", "1", "--delay", "1h"], jsonl({"type": "timer.tick"}))
    assert r.code == 0, r.err
    [name] = queue_files(home, "later")
    prio, due, _ = name.split("-", 2)
    assert prio == "1"
    import time

    assert int(due) > (time.time() + 3500) * 1000
    ls = run(["queue", "ls", "--queue", "later", "--json"]).json()
    assert ls[0]["priority"] == 1 and ls[0]["state"] == "new"


def test_a_big_batch_is_all_stored(home):
    r = run(["enqueue", "--queue", "bulk"], jsonl(*({"type": "text", "data": {"n": i}} for i in range(5000))))
    assert r.code == 0 and r.json()["enqueued"] == 5000
    assert len(queue_files(home, "bulk")) == 5000
    assert os.listdir(home / "spool" / "bulk" / "tmp") == []


def test_bad_flags_are_usage_errors(home):
    assert run(["enqueue", "--queue", "Bad/Name"], b"").code == 2
    assert run(["enqueue", "--delay", "soon"], b"").code == 2
    assert run(["enqueue", "--priority", "12"], b"").code == 2


def test_a_bad_config_stops_with_78_and_names_the_key(home):
    (home / "assist.toml").write_text('[queue]\nmax_attempts = "many"\n')
    r = run(["enqueue"], jsonl({"type": "text"}))
    assert r.code == 78
    assert "assist.toml: queue.max_attempts:" in r.err
    assert queue_files(home) == [] if (home / "spool" / "inbox").exists() else True
