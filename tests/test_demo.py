"""The demo end to end: real dovecot and SMTP servers, the intent model, SmolLM2 through llama.cpp, the
actions; then a second run that changes nothing, and a scan of the logs for message bodies."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from assist.demo.showcase import mail_workdir
from assist.ingest.mail import parse_message
from conftest import wait_for

MAILBOX = Path(__file__).resolve().parent.parent / "demo" / "mailbox"
ASSIST = str(Path(sys.executable).parent / "assist")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def outcome_rows(stdout: str) -> list[tuple[str, ...]]:
    """The result table without the time column (subject, route, confidence, by, model, actions, state)."""
    rows = [line.split("  ") for line in stdout.splitlines() if re.search(r"\s(done|hold|failed)$", line)]
    return sorted(tuple(c.strip() for c in row if c.strip() and not re.fullmatch(r"\d+\.\ds", c.strip()))
                  for row in rows)


def test_demo_runs_the_pipeline_and_a_second_run_does_nothing(gguf):
    # dovecot runs as nobody when we are root: its folders must be reachable (pytest's tmp_path is 0700)
    root = Path(tempfile.mkdtemp(prefix="assist-demo-", dir="/tmp"))
    os.chmod(root, 0o755)
    try:
        first = run_demo_twice(root / "demo", gguf)
        # local-only proof: the same run in a network namespace that has nothing but loopback
        offline = root / "offline"
        (offline / "models").mkdir(parents=True)
        (offline / "models" / gguf.name).symlink_to(gguf)
        inside = f"ip link set lo up && exec {ASSIST} demo --dir {offline}"
        boxed = subprocess.run(["unshare", "-n", "bash", "-c", inside], capture_output=True, text=True, timeout=900)
        assert boxed.returncode == 0, boxed.stderr + boxed.stdout
        assert len(outcome_rows(first)) == 30
        assert outcome_rows(boxed.stdout) == outcome_rows(first)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_demo_twice(home: Path, gguf: Path) -> str:
    (home / "models").mkdir(parents=True)
    (home / "models" / gguf.name).symlink_to(gguf)
    first = subprocess.run([ASSIST, "demo", "--dir", str(home)], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "30 new messages queued" in first.stdout
    rows = [line for line in first.stdout.splitlines() if re.search(r"\s(done|hold|failed)$", line)]
    assert len(rows) == 30 and not [r for r in rows if r.endswith("failed")]
    urgent = [r for r in rows if " urgent " in r]
    assert len(urgent) == 2 and all("email.draft:awaiting_approval" in r and r.endswith("hold") for r in urgent)
    # their senders are in the Sent folder: a reply is drafted only to someone "you" wrote to
    assert "read the headers of 2 sent message(s); 2 correspondent(s) kept" in first.stdout
    lists = [r for r in rows if " newsletter " in r]
    assert lists and all("email.move:done" in r for r in lists)
    maildir = home / "mailserver" / "home" / "demo" / "Maildir"
    # the messages in the folder (new/ and cur/ hold one file each; dovecot's own files sit beside them)
    filed = sum(1 for part in ("new", "cur") for f in (maildir / ".Lists" / part).glob("*") if f.is_file()) \
        if (maildir / ".Lists").exists() else 0
    assert filed == len(lists)
    notes = (home / "notes" / "Inbox summary.md").read_text()
    triaged = [r for r in rows if " triage " in r]
    assert notes.count("<!-- assist:") == len(triaged) > 0

    before = digest(home / "notes"), digest(home / "spool")
    second = subprocess.run([ASSIST, "demo", "--dir", str(home)], capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "nothing new" in second.stdout
    assert (digest(home / "notes"), digest(home / "spool")) == before

    # privacy: with the default log_content = false, no message body reaches the logs, and finished
    # tasks keep no content in the spool. Held tasks keep theirs: a person decides on them.
    logs = "".join(p.read_text() for p in (home / "logs").glob("*.jsonl"))
    spool_files = [p for p in (home / "spool").rglob("*") if p.is_file() and p.parent.name != "hold"]
    finished = [p for p in spool_files if p.parent.name == "done"]
    assert logs and len(finished) == len(rows) - sum(r.endswith("hold") for r in rows)
    assert all("content_removed" in orjson.loads(p.read_bytes())["meta"] for p in finished)
    spool = "".join(p.read_text() for p in spool_files)
    held = "".join(p.read_text() for p in (home / "spool").rglob("hold/*.json"))
    scanned, kept_for_a_person = 0, 0
    for path in sorted(MAILBOX.glob("*.eml")):
        parsed = parse_message(path.read_bytes())
        body, headers = parsed.get("body_text", ""), " ".join(parsed.get("headers", {}).values())
        for line in (x.strip() for x in body.splitlines()):
            if len(line) >= 30 and line not in headers:  # a list footer's URL is in List-Unsubscribe too
                scanned += 1
                assert line not in logs, f"{path.name}: a body line is in the logs"
                assert line not in spool, f"{path.name}: a body line is in a finished task"
                kept_for_a_person += orjson.dumps(line).decode()[1:-1] in held
    assert scanned > 200 and kept_for_a_person > 0
    assert "demo-password" not in logs + spool
    return first.stdout



def test_the_demo_stops_its_servers_on_every_way_out(gguf, tmp_path):
    """--keep keeps the servers up until Ctrl-C; Ctrl-C, a kill (SIGTERM) and even SIGKILL stop them, and so does
    a failure (here: a spool that cannot be made). An empty mailbox keeps it quick (no model call)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for n, (how, expected) in enumerate([(signal.SIGINT, 0), (signal.SIGTERM, 143), (signal.SIGKILL, -9)]):
        home = tmp_path / f"home{n}"
        (home / "models").mkdir(parents=True)
        (home / "models" / gguf.name).symlink_to(gguf)
        demo = subprocess.Popen([ASSIST, "demo", "--dir", str(home), "--mailbox", str(empty), "--keep"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = []
            for line in demo.stdout:
                seen.append(line)
                if "stay up until Ctrl-C" in line:
                    break
            assert "nothing new" in "".join(seen), "".join(seen) + demo.stderr.read()
            conf = str(mail_workdir(home) / "dovecot.conf")
            assert running(conf), "the demo's dovecot is not up while it waits"
            if n == 0:  # what it says to type in another terminal signs in to the demo's mail server
                said = demo.stdout.readline().strip()
                assert said.startswith("export ASSIST_HOME="), said
                signed_in = subprocess.run(["bash", "-c", f"{said}; {ASSIST} classify junk"], capture_output=True,
                                           text=True, timeout=300, env={k: v for k, v in os.environ.items()
                                                                        if not k.startswith("ASSIST_")})
                assert signed_in.returncode == 0, signed_in.stderr
            demo.send_signal(how)
            assert demo.wait(timeout=60) == expected, demo.stderr.read()
            # SIGKILL: no cleanup runs; the kernel ends dovecot with its parent (PR_SET_PDEATHSIG)
            wait_for(lambda conf=conf: not running(conf), timeout=30, what=f"dovecot to end after {how.name}")
        finally:
            demo.kill()
            demo.wait()
            shutil.rmtree(mail_workdir(home), ignore_errors=True)
    # a failure once the servers are up: the spool cannot be made (a file is in its way)
    home = tmp_path / "broken"
    (home / "models").mkdir(parents=True)
    (home / "models" / gguf.name).symlink_to(gguf)
    (home / "spool").write_text("not a folder")
    try:
        failed = subprocess.run([ASSIST, "demo", "--dir", str(home), "--mailbox", str(empty), "--keep"],
                                capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(mail_workdir(home), ignore_errors=True)  # as root, the mail is in the temporary folder
    assert failed.returncode not in (0, 1) and "spool" in failed.stdout + failed.stderr, failed.stdout
    assert "Traceback" not in failed.stderr and not running(str(mail_workdir(home) / "dovecot.conf"))


def running(needle: str) -> bool:
    """Whether a process has `needle` in its command line."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and needle.encode() in (proc / "cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False
