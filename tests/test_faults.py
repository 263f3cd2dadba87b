"""Nothing lost, nothing stuck: the spool, the pipes and the errors under faults, tried as a careless user or
a failing disk would (malformed files, holds in a pipe, a full disk, duplicate ids, missing extras). Each
test failed on the code before the fix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from conftest import ASSIST, BILLS_ROUTE, FAST_CONFIG, jsonl, run

FIXTURES = Path(__file__).parent / "fixtures" / "email" / "spamassassin"


def spool(home: Path, queue: str, state: str) -> Path:
    return home / "spool" / queue / state


def names(home: Path, queue: str, state: str) -> list[str]:
    folder = spool(home, queue, state)
    return sorted(os.listdir(folder)) if folder.exists() else []


def docs(home: Path, queue: str, state: str) -> list[dict]:
    return [orjson.loads((spool(home, queue, state) / n).read_bytes()) for n in names(home, queue, state)
            if (spool(home, queue, state) / n).is_file()]


def enqueue(*tasks: dict, queue: str = "a") -> None:
    r = run(["enqueue", "--queue", queue], jsonl(*tasks))
    assert r.code == 0, r.err


# -- 1. one malformed file jams nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"{}", b"[]", b"5", b'{"meta": 5}', b'{"type": "t", "id": "OTHER"}',
                                     b'{"type": "t", "id": "../../../../x"}', b'{"type": "t", "da'])
def test_a_malformed_file_goes_to_failed_with_its_reason_and_the_batch_goes_on(home, garbage):
    enqueue(*({"type": "t", "data": {"n": n}} for n in range(3)))
    spool(home, "a", "new").joinpath("5-0000000000001-NOID.json").write_bytes(garbage)
    r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
    assert r.code == 0, r.err
    assert sorted(d["data"]["n"] for d in docs(home, "b", "new")) == [0, 1, 2]
    assert names(home, "a", "cur") == [] and names(home, "a", "new") == []
    [record] = docs(home, "a", "failed")
    assert record["type"] == "assist.invalid" and record["id"] == "NOID"
    assert record["meta"]["last_error"].startswith("not a task: ")
    kept = home / "spool" / record["data"]["kept_as"]
    assert kept.read_bytes() == garbage  # the original is kept, never deleted
    assert not (home.parent / "x").exists() and not (home / "x").exists()
    for args in (["queue", "reap"], ["queue", "ls", "--state", "all"], ["queue", "stats"]):
        r = run(args)
        assert r.code == 0 and "Traceback" not in r.err, (args, r.err)
    r = run(["queue", "retry", "NOID"])
    assert r.code == 1 and "not a task" in r.err and "Traceback" not in r.err


def test_directories_links_and_truncated_files_are_skipped_with_a_warning(home, tmp_path):
    enqueue({"type": "t", "id": "GOOD1"}, {"type": "t", "id": "FAIL1"})
    run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
    (spool(home, "a", "new") / "x.json").mkdir()
    (spool(home, "a", "failed") / "x.json").mkdir()
    (spool(home, "a", "failed") / "TRUNC1.json").write_bytes(b'{"type": "t", "id": "TRU')
    (tmp_path / "secret.json").write_bytes(b'{"type": "t", "id": "LINK1", "data": {"secret": "s"}}')
    (spool(home, "a", "failed") / "LINK1.json").symlink_to(tmp_path / "secret.json")
    for args in (["queue", "ls"], ["queue", "ls", "--state", "failed"], ["queue", "ls", "--state", "all", "--json"],
                 ["queue", "purge", "--state", "failed", "--older-than", "0s"], ["queue", "stats"]):
        r = run(args)
        assert r.code == 0, (args, r.err)
        assert "Traceback" not in r.err and "skipped" in r.err, (args, r.err)
    for args in (["queue", "show", "TRUNC1"], ["queue", "retry", "TRUNC1"], ["queue", "show", "LINK1"],
                 ["queue", "retry", "LINK1"]):
        r = run(args)
        assert r.code != 0 and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
        assert "secret" not in r.out
    assert (tmp_path / "secret.json").exists() and (spool(home, "a", "new") / "x.json").is_dir()
    r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])  # the directory: set aside
    assert r.code == 0 and (spool(home, "a", "new") / "x.json").exists() is False
    assert any(d["type"] == "assist.invalid" and "directory" in d["data"]["reason"] for d in docs(home, "a", "failed"))


def test_a_queue_that_cannot_be_made_stops_the_worker_and_gives_its_leases_back(home):
    """(A worker that dies of a bug does the same with exit 70: tests/test_fast.py.)"""
    enqueue(*({"type": "t", "data": {"n": n}} for n in range(3)))
    (home / "spool" / "b").write_text("a file where the queue's folder should be")
    r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
    assert r.code == 73 and "cannot make the queue 'b'" in r.err and "Traceback" not in r.err
    assert names(home, "a", "cur") == [] and len(names(home, "a", "new")) == 3
    assert all(d["meta"]["attempts"] == 0 for d in docs(home, "a", "new"))  # a fault of the worker costs nothing
    (home / "spool" / "b").unlink()
    assert run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"]).code == 0
    assert len(names(home, "b", "new")) == 3


@pytest.mark.parametrize("flag", ["--to", "--from", "--dead-letter", "--hold-queue"])
def test_queue_names_are_checked_everywhere(home, flag):
    r = run(["stage", "passthrough", flag, "../../x", "--once"], input=b"")
    assert r.code == 2 and "bad queue name" in r.err
    assert not (home.parent / "x").exists()


def test_a_malformed_entry_in_redis_is_set_aside(home, fresh_redis):
    import redis

    (home / "assist.toml").write_text(FAST_CONFIG.replace("[queue]", f'[queue]\nurl = "{fresh_redis}"'))
    enqueue({"type": "t", "id": "BAD1"}, {"type": "t", "id": "GOOD1"})
    redis.Redis.from_url(fresh_redis).hset("assist:{a}:doc", "BAD1", b'{"meta": 5}')
    r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
    assert r.code == 0, r.err
    shown = run(["queue", "show", "BAD1"]).json()
    assert shown["state"] == "failed" and shown["task"]["type"] == "assist.invalid"
    assert run(["queue", "show", "GOOD1", "--queue", "b"]).json()["state"] == "new"


# -- 2. holds do not vanish in a pipe -----------------------------------------------------------------------


def test_the_headline_pipe_parks_what_it_holds_and_carries_on_after_approval(home, tmp_path):
    (tmp_path / "vault").mkdir()
    (home / "assist.toml").write_text(FAST_CONFIG + BILLS_ROUTE.format(vault=tmp_path / "vault") + """
[[rules]]
name = "bills"
route = "bills"
match = {field = "data.subject", contains = "bill"}
""")

    def pipe(text: bytes) -> subprocess.CompletedProcess:
        script = f"{ASSIST} ingest stdin --type email.received | {ASSIST} classify | {ASSIST} prompt | " \
                 f"{ASSIST} run | {ASSIST} act"
        return subprocess.run(["bash", "-o", "pipefail", "-c", script], input=text, capture_output=True, timeout=120)

    line = orjson.dumps({"type": "email.received", "data": {"subject": "Water bill"}}) + b"\n"
    first = pipe(line)
    assert first.returncode == 0, first.stderr
    assert first.stdout == b"" and b"held: awaiting approval: notes.append" in first.stderr
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    assert held["queue"] == "act" and held["awaiting"][0]["type"] == "notes.append"
    assert not (tmp_path / "vault" / "Bills.md").exists()
    assert run(["queue", "approve", held["id"]]).code == 0
    second = pipe(b"")  # the next run of the pipe, with nothing new
    assert second.returncode == 0, second.stderr
    assert "pay: Water bill" in (tmp_path / "vault" / "Bills.md").read_text()
    assert run(["queue", "show", held["id"]]).json()["state"] == "done"


# -- 3. retry re-plans ----------------------------------------------------------------------------------------


def test_retry_runs_again_what_the_journal_does_not_record_as_done(home, tmp_path):
    route = "[routes.triage]\nactions = [\"notes.append\"]\nfixed = [{type = \"notes.append\", " \
            "args = {note = \"Inbox\", text = \"{{ data.subject }}\"}}]\n"
    (home / "assist.toml").write_text(FAST_CONFIG + route)
    r = run(["act"], jsonl({"type": "email.received", "intent": {"route": "triage"}, "data": {"subject": "hi"}}))
    assert r.code == 1 and "no folder is configured" in r.err
    [failed] = run(["queue", "ls", "--queue", "act", "--state", "failed", "--json"]).json()
    (tmp_path / "vault").mkdir()
    (home / "assist.toml").write_text(FAST_CONFIG + route + f'[actions.notes]\nvault = "{tmp_path / "vault"}"\n')
    assert run(["queue", "retry", failed["id"]]).code == 0
    r = run(["act"])  # the next run carries on with the retried task
    assert r.code == 0, r.err
    assert "hi" in (tmp_path / "vault" / "Inbox.md").read_text()
    assert run(["queue", "show", failed["id"]]).json()["state"] == "done"


def test_an_action_with_only_a_type_trips_nothing(home):
    (home / "assist.toml").write_text(FAST_CONFIG + '[routes.r]\nactions = ["notes.append"]\n')
    r = run(["act"], jsonl({"type": "x", "intent": {"route": "r"}, "actions": [{"type": "notes.append"}],
                            "result": {"parsed": {"actions": [{"type": "notes.append"}]}}}))
    assert r.code == 0 and "Traceback" not in r.err
    [out] = r.lines
    assert [a["status"] for a in out["actions"]] == ["refused"]


# -- 4. a full disk loses nothing ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1.5 MB tmpfs (needs root: said so and skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("the full-disk tests mount a small tmpfs, which needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def maildir(folder: Path, count: int) -> set[str]:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    sources = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    ids = set()
    for n in range(count):
        raw = sources[n % len(sources)].read_bytes()
        raw = re.sub(rb"(?im)^message-id:.*\r?\n", b"", raw, count=1)
        message_id = f"<copy-{n}@assist.test>"
        ids.add(message_id)
        (folder / "new" / f"{n:06d}.assist:2,").write_bytes(f"Message-ID: {message_id}\n".encode() + raw)
    return ids


def fill(mount: Path, leave: int) -> Path:
    """Fill the file system but `leave` bytes."""
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def queued_ids(home: Path, queue: str = "inbox") -> list[str]:
    out = []
    for state in ("new", "cur", "hold", "done", "failed"):
        out += [d["data"].get("message_id") for d in docs(home, queue, state)]
    return out


def test_a_full_disk_in_a_pipe_loses_no_mail_and_duplicates_none(home, tmp_path, small_disk):
    (home / "assist.toml").write_text(FAST_CONFIG.replace("[queue]", f'[queue]\nurl = "{small_disk / "spool"}"'))
    ids = maildir(tmp_path / "Maildir", 200)
    filler = fill(small_disk, 300_000)
    script = f"{ASSIST} ingest maildir {tmp_path / 'Maildir'} | {ASSIST} enqueue --queue inbox"
    first = subprocess.run(["bash", "-c", script + "; echo codes ${PIPESTATUS[*]} >&2"], capture_output=True,
                           timeout=120)
    err = first.stderr.decode()
    codes = err.strip().splitlines()[-1].split()[1:]
    assert codes[1] == "75" and "No space left on device" in err and "Traceback" not in err, err
    assert codes[0] == "75" and "sent again next time" in err, err
    summary = orjson.loads(first.stdout)
    assert 0 < summary["enqueued"] < 200 and summary["last_line"] >= summary["enqueued"]
    filler.unlink()  # space comes back: the same pipe again
    second = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr
    queued = [orjson.loads(p.read_bytes())["data"]["message_id"]
              for p in (small_disk / "spool" / "inbox" / "new").iterdir()]
    assert sorted(queued) == sorted(ids)  # every message once: none lost, none twice
    assert orjson.loads(second.stdout)["duplicates"] >= summary["enqueued"]


def test_a_full_disk_stops_a_stage_with_one_line_and_keeps_its_tasks(home, small_disk):
    (home / "assist.toml").write_text(FAST_CONFIG.replace("[queue]", f'[queue]\nurl = "{small_disk / "spool"}"'))
    enqueue(*({"type": "t", "data": {"pad": "x" * 2000, "n": n}} for n in range(40)))
    filler = fill(small_disk, 20_000)
    r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
    assert r.code == 75 and "No space left on device" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    # every lease given back (some tasks may have reached b before the disk filled: b keeps one of each)
    assert len(list((small_disk / "spool" / "a" / "new").iterdir())) == 40
    assert not list((small_disk / "spool" / "a" / "cur").iterdir())
    filler.unlink()
    assert run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"]).code == 0
    moved = [orjson.loads(p.read_bytes())["data"]["n"] for p in (small_disk / "spool" / "b" / "new").iterdir()]
    assert sorted(moved) == list(range(40))


def test_a_read_only_spool_is_one_line_and_exit_73(home, small_disk):
    (home / "assist.toml").write_text(FAST_CONFIG.replace("[queue]", f'[queue]\nurl = "{small_disk / "spool"}"'))
    enqueue({"type": "t"})
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        r = run(["enqueue", "--queue", "a"], jsonl({"type": "t"}))
        assert r.code == 73 and "Read-only file system" in r.err and "Traceback" not in r.err
        r = run(["stage", "passthrough", "--from", "a", "--to", "b", "--once"])
        assert r.code == 73 and "Traceback" not in r.err
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)



def test_a_full_disk_under_the_dashboard_is_said_and_loses_no_task(home, small_disk):
    """A person retries (or approves) a task on the dashboard while the spool's disk is full: the server
    answered 500 "Internal Server Error", which the page could not read, and logged a traceback. Now the
    answer is 507 with the one line the command line gives, and the task stays where it was."""
    import requests

    from test_serve import ROUTES, serving

    config = ROUTES.format(vault=small_disk / "vault").replace("[queue]", f'[queue]\nurl = "{small_disk / "spool"}"')
    broken = {"type": "text", "data": {"pad": "x" * 3000},
              "prompt": {"messages": [{"role": "user", "content": "hi"}], "model": "nowhere"}}
    (home / "assist.toml").write_text(config)
    assert run(["enqueue", "--queue", "prompt"], jsonl(broken)).code == 0
    assert run(["run", "--from", "prompt", "--once"]).code == 1
    failed = small_disk / "spool" / "prompt" / "failed"
    [held] = [p.name for p in failed.iterdir()]
    with serving(home, config) as (base, bearer, _):
        filler = fill(small_disk, 0)
        r = requests.post(f"{base}/api/tasks/{held[:-5]}/retry", headers=bearer, timeout=10)
        assert r.status_code == 507, r.text
        assert "No space left on device" in r.json()["error"] and "\n" not in r.json()["error"]
        assert [p.name for p in failed.iterdir()] == [held]
        assert orjson.loads((failed / held).read_bytes())["data"]["pad"] == "x" * 3000
        filler.unlink()
        r = requests.post(f"{base}/api/tasks/{held[:-5]}/retry", headers=bearer, timeout=10)
        assert r.status_code == 200, r.text
        assert not list(failed.iterdir()) and len(list((small_disk / "spool" / "prompt" / "new").iterdir())) == 1

NOTES_ROUTE = """
[routes.triage]
actions = ["notes.append"]

[actions.notes]
vault = "{vault}"
"""


def test_a_notes_vault_on_a_full_disk_stops_act_and_the_note_is_written_once_space_is_back(home, small_disk):
    """The vault's disk is full when a summary is to be appended: the action failed for good ("OSError:
    [Errno 28] ..."), the task went to failed/ and waited for a person. Nothing was written, and a full
    disk passes: act stops (75, one line) as on a full spool, the task stays queued, and the next run
    writes the note, once."""
    (home / "assist.toml").write_text(FAST_CONFIG + NOTES_ROUTE.format(vault=small_disk / "vault"))
    note = {"type": "note.in", "intent": {"route": "triage"}, "data": {"subject": "hi"},
            "result": {"parsed": {"actions": [{"type": "notes.append",
                                               "args": {"note": "Inbox", "text": "y" * 40_000}}]}}}
    enqueue(note, queue="acts")
    filler = fill(small_disk, 0)
    r = run(["act", "--from", "acts", "--once"])
    assert r.code == 75 and "No space left on device" in r.err and "Traceback" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
    assert len(names(home, "acts", "new")) == 1 and not names(home, "acts", "failed")
    filler.unlink()
    r = run(["act", "--from", "acts", "--once"])
    assert r.code == 0, r.err
    [done] = docs(home, "acts", "done")
    assert [a["status"] for a in done["actions"]] == ["done"]
    assert (small_disk / "vault" / "Inbox.md").read_text().count("y" * 40_000) == 1


def test_a_notes_vault_that_cannot_be_written_is_said_in_words_not_as_a_python_error(home, small_disk):
    (home / "assist.toml").write_text(FAST_CONFIG + NOTES_ROUTE.format(vault=small_disk / "vault"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        r = run(["act"], jsonl({"type": "note.in", "intent": {"route": "triage"}, "data": {"subject": "hi"},
                                "result": {"parsed": {"actions": [{"type": "notes.append",
                                                                   "args": {"note": "Inbox", "text": "x"}}]}}}))
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    said = f"notes.append: {small_disk / 'vault'}: Read-only file system"
    assert r.code == 1 and said in r.err and "Errno" not in r.err and "Traceback" not in r.err, r.err
    [kept] = docs(home, "act", "failed")  # kept for a retry once the vault can be written
    assert [(a["status"], a["error"]) for a in kept["actions"]] == [("failed", said.split(": ", 1)[1])]


# -- 5. duplicate ids: the first is kept, the line is named --------------------------------------------------


def test_enqueue_keeps_the_first_of_a_duplicate_id_and_names_the_line(home):
    r = run(["enqueue", "--queue", "a"], jsonl({"type": "t", "id": "SAME1", "data": {"n": 1}},
                                              {"type": "t", "id": "SAME1", "data": {"n": 2}, "priority": 1}))
    assert r.code == 0 and "line 2: task SAME1 is in queue a already" in r.err
    assert orjson.loads(r.out)["enqueued"] == 1 and orjson.loads(r.out)["duplicates"] == 1
    [doc] = docs(home, "a", "new")
    assert doc["data"] == {"n": 1}


# -- 6. a missing extra or an odd file is one line, never a traceback ---------------------------------------

BLOCKER = """
import sys
BLOCKED = {blocked!r}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
"""


@pytest.fixture
def without(tmp_path, monkeypatch):
    """Run the commands as in an install without these packages: a meta path finder that refuses them
    (the same ModuleNotFoundError an absent package gives)."""

    def block(*modules: str) -> None:
        site = tmp_path / "blocker"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(modules)))
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))

    return block


@pytest.mark.parametrize(("args", "extra", "stdin"), [
    (["serve"], "serve", None),
    (["ingest", "http"], "http", None),
    (["ingest", "ws", "ws://127.0.0.1:9"], "ws", None),
    (["memory", "ls"], "memory", None),
    (["classify"], "classify", b'{"type": "text", "data": {"text": "call mum"}}\n'),
    (["demo"], "demo", None),
])
def test_a_missing_extra_is_one_line_naming_it(home, without, args, extra, stdin):
    from assist.auth.store import TokenStore

    TokenStore(home).init("file")
    shutil.copy(Path(__file__).parent.parent / "assist.toml", home / "assist.toml")  # the default routes
    without("starlette", "uvicorn", "websockets", "chromadb", "onnxruntime", "tokenizers", "llama_cpp",
            "aiosmtpd", "prometheus_client")
    r = run(args, input=stdin, timeout=60)
    assert r.code == 69, (args, r.code, r.err)
    assert f"pip install 'assist[{extra}]'" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_work_stops_on_a_missing_extra_and_keeps_the_tasks(home, without):
    shutil.copy(Path(__file__).parent.parent / "assist.toml", home / "assist.toml")
    enqueue({"type": "text", "data": {"text": "call mum"}}, queue="inbox")
    without("onnxruntime", "tokenizers", "llama_cpp")
    r = run(["work", "--from", "inbox", "--once"], timeout=60)
    assert r.code == 69 and "pip install 'assist[classify]'" in r.err and "Traceback" not in r.err
    assert len(names(home, "inbox", "new")) == 1 and names(home, "inbox", "failed") == []


def test_an_assist_toml_that_is_not_utf8_is_one_line(home):
    (home / "assist.toml").write_bytes(b'[queue]\nurl = "sp\xff\xfeol"\n')
    r = run(["config", "check"])
    assert r.code == 78 and "UTF-8" in r.err and "Traceback" not in r.err


def test_the_all_extra_names_every_extra():
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"]) - {"all", "test", "bench"}
    [spec] = project["optional-dependencies"]["all"]
    assert set(spec.split("[")[1].rstrip("]").split(",")) == extras



def test_a_damaged_journal_stops_act_with_one_line_and_keeps_its_tasks(home, tmp_path):
    """state/actions.db records which actions ran (a retry never repeats one). Damaged (a disk that
    failed, a backup restored half-way), `assist act` and `assist queue approve` stopped with a
    sqlite3 traceback. It is one line naming the file and what to do, exit 73, and the tasks stay queued:
    nothing acts without knowing what it did before."""
    vault = tmp_path / "vault"
    (home / "assist.toml").write_text(FAST_CONFIG + BILLS_ROUTE.format(vault=vault) + """
[routes.log]
actions = ["notes.append"]
fixed = [{type = "notes.append", args = {note = "Log", text = "{{ data.subject }}"}}]
""")
    log = {"type": "t", "intent": {"route": "log"}}
    enqueue(log | {"data": {"subject": "first"}}, queue="act")
    assert run(["act", "--from", "act", "--once"]).code == 0
    enqueue(log | {"data": {"subject": "second"}}, {"type": "t", "intent": {"route": "bills"},
                                                   "data": {"subject": "rent"}}, queue="act")
    journal = home / "state" / "actions.db"
    journal.write_bytes(b"\x00garbage{\n" * 100)
    for wal in journal.parent.glob("actions.db-*"):
        wal.unlink()
    r = run(["act", "--from", "act", "--once"])
    assert r.code == 73 and "Traceback" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and f"{journal}: damaged" in r.err, r.err
    assert len(names(home, "act", "new")) == 2 and not names(home, "act", "failed")
    assert "second" not in (vault / "Log.md").read_text()
    approve = run(["queue", "approve", names(home, "act", "new")[0].split("-")[-1][:-5], "--yes"])
    assert approve.code == 73 and approve.err.count("\n") == 1 and f"{journal}: damaged" in approve.err, approve.err
