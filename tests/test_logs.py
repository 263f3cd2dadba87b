"""Per-component JSON logs: what goes in (never bodies), rotation, and `assist logs`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import orjson

from assist.log import ComponentLog
from conftest import ASSIST, jsonl, run


def test_stage_logs_have_ids_and_timings_but_no_bodies(home):
    secret = "the-password-is-swordfish"
    run(["enqueue", "--queue", "in"], jsonl({"type": "email.received", "data": {"body_text": secret}}))
    run(["stage", "passthrough", "--from", "in", "--to", "out"])
    text = (home / "logs" / "passthrough.jsonl").read_text()
    assert secret not in text
    records = [orjson.loads(line) for line in text.splitlines()]
    finished = [r for r in records if r["event"] == "run_finished"]
    assert finished and finished[0]["ok"] == 1 and finished[0]["component"] == "passthrough"
    assert all(r["at"].endswith("Z") and r["level"] in ("debug", "info", "warning", "error") for r in records)


def test_logs_json_carries_controls_escaped(home):
    """A record can quote what came from outside (an error naming a file, a refused value): `assist
    logs --json` prints C1 and direction controls as \\u escapes, as every --json output does."""
    ComponentLog(home / "logs", "act").warning("refused", error="path \x9b31m\u202efdp.exe")
    r = run(["logs", "--json", "--component", "act"])
    assert r.code == 0 and not {"\x9b", "\u202e"} & set(r.out), repr(r.out)
    assert orjson.loads(r.out.splitlines()[-1])["error"] == "path \x9b31m\u202efdp.exe"


def test_rotation_by_size_across_processes(tmp_path):
    folder = tmp_path / "logs"
    code = (
        "import sys; from pathlib import Path; from assist.log import ComponentLog; "
        f"log = ComponentLog(Path({str(folder)!r}), 'x', max_bytes=20000, backups=2); "
        "[log.info('tick', n=i, who=sys.argv[1]) for i in range(400)]"
    )
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)]) for k in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    files = sorted(os.listdir(folder))
    assert files[:3] == ["x.jsonl", "x.jsonl.1", "x.jsonl.2"]
    assert "x.jsonl.3" not in files
    for name in ("x.jsonl", "x.jsonl.1", "x.jsonl.2"):
        assert (folder / name).stat().st_size < 20000 + 2000
        for line in (folder / name).read_bytes().splitlines():
            orjson.loads(line)  # every line whole: no interleaved writes


def test_a_full_disk_is_said_once_and_the_records_lost_are_counted_when_the_log_writes_again(tmp_path, capsys):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "x.jsonl").symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    log = ComponentLog(folder, "x")
    for n in range(5):
        log.info("tick", n=n)  # the work goes on
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and said[0].startswith(f"assist: cannot write log {folder / 'x.jsonl'}: No space left")
    (folder / "x.jsonl").unlink()  # space again
    log.info("tick", n=5)
    log.info("tick", n=6)
    assert capsys.readouterr().err.splitlines() == [f"assist: log {folder / 'x.jsonl'} written again; 5 records lost"]
    records = [orjson.loads(line) for line in (folder / "x.jsonl").read_bytes().splitlines()]
    assert [(r["event"], r.get("lost"), r.get("n")) for r in records] == [
        ("log_records_lost", 5, None), ("tick", None, 5), ("tick", None, 6)]
    assert records[0]["level"] == "warning"


def test_a_record_the_disk_filled_during_does_not_take_the_next_one_with_it(tmp_path):
    """A disk that fills in the middle of a record writes part of it. The next record starts on a line of
    its own: else the part and it read as one broken line, and it is lost too. The file size limit
    (RLIMIT_FSIZE) makes the kernel write a part, as a full disk does."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from assist.log import ComponentLog
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, not a signal
        log = ComponentLog(Path({str(tmp_path)!r}), "x")
        log.info("first")
        size = Path({str(tmp_path)!r}, "x.jsonl").stat().st_size
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 30, hard))
        log.info("torn", padding="x" * 200)
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        log.info("after")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cannot write log" in done.stderr and "1 records lost" in done.stderr
    lines = (tmp_path / "x.jsonl").read_bytes().splitlines()
    assert len(lines[1]) == 30  # the part the limit let through
    events = [orjson.loads(line)["event"] for n, line in enumerate(lines) if n != 1]
    assert events == ["first", "log_records_lost", "after"]


def test_assist_logs_filters_by_component_and_level(home):
    folder = home / "logs"
    a = ComponentLog(folder, "alpha")
    b = ComponentLog(folder, "beta")
    a.info("started")
    a.error("failed", task="T1", error="boom")
    b.warning("slow", ms=900)
    r = run(["logs", "--level", "warning"])
    assert r.code == 0
    assert "alpha: failed" in r.out and "beta: slow" in r.out and "started" not in r.out
    r = run(["logs", "--component", "beta", "--json"])
    [record] = [orjson.loads(line) for line in r.out.splitlines()]
    assert record["event"] == "slow" and record["ms"] == 900


def test_assist_logs_passes_over_lines_that_are_not_records_and_prints_no_escape_sequence(home):
    folder = home / "logs"
    folder.mkdir()
    (folder / "x.jsonl").write_bytes(b"\n".join([
        b'{"at":"2026-12-03T10:00:00Z","level":"info","component":"x","event":"first","pid":1}',
        b'{"at":"2026-12-03T10:00:01Z","level":"inf',  # cut by a crash
        b"\xff\xfe not text", b"[1, 2]", b'"a string"', b"null",
        b'{"at":5,"level":{"not":"a level"},"event":["a"]}',  # written by something else
        b'{"at":"2026-12-03T10:00:02Z","level":"error","component":"x",'
        b'"event":"second \\u001b[2J\\u001b]0;pwned\\u0007","error":"quoted \\u001b[31m"}',
    ]) + b"\n")
    r = run(["logs"])
    assert r.code == 0, r.err
    assert "x: first" in r.out and "x: second" in r.out and "\x1b" not in r.out and "\x07" not in r.out
    assert '["a"]' in r.out  # a record another program wrote is shown as it is
    r = run(["logs", "--level", "error"])
    assert r.code == 0 and "x: second" in r.out and "first" not in r.out
    r = run(["logs", "--json"])
    assert r.code == 0
    events = [orjson.loads(line)["event"] for line in r.out.splitlines()]
    assert events == ["first", "second \x1b[2J\x1b]0;pwned\x07", ["a"]]  # as written: JSON escapes them


def test_assist_logs_follow_prints_new_records(home):
    log = ComponentLog(home / "logs", "gamma")
    log.info("before")
    proc = subprocess.Popen([ASSIST, "logs", "--follow", "--component", "gamma"], stdout=subprocess.PIPE)
    try:
        time.sleep(1.0)
        log.info("after", task="T9")
        deadline = time.monotonic() + 10
        seen = b""
        os.set_blocking(proc.stdout.fileno(), False)
        while time.monotonic() < deadline and b"after" not in seen:
            chunk = proc.stdout.read()
            seen += chunk or b""
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert b"gamma: before" in seen and b"gamma: after" in seen and b"task=T9" in seen
