"""`assist ingest watch`: bursts, editors' save patterns, a folder that disappears, and --once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from conftest import ASSIST, run


def spooled(home: Path) -> list[dict]:
    folder = home / "spool" / "files" / "new"
    if not folder.exists():
        return []
    return [orjson.loads((folder / n).read_bytes()) for n in sorted(os.listdir(folder))]


def settle(home: Path, expect: int, timeout: float = 300) -> list[dict]:
    """Wait until `expect` events are stored (the timeout a hang guard: a busy machine is slow), then a
    little longer to see that no more come."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(spooled(home)) < expect:
        time.sleep(0.1)
    time.sleep(1.0)
    return spooled(home)


@pytest.fixture
def watcher(home, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "existing.txt").write_text("v1\n")
    proc = subprocess.Popen([ASSIST, "ingest", "watch", str(folder), "--to", "files", "--debounce", "300ms"],
                            stderr=subprocess.PIPE, env=os.environ.copy())
    # what changes once the watch is in place gives events: it says when (on a busy machine a second was
    # not always enough to start, and the first of 1,000 files were written before it watched)
    ready = proc.stderr.readline().decode()
    assert ready.startswith(f"assist ingest watch: watching {folder}, events to queue files"), ready
    yield folder, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_a_burst_of_1000_files_gives_1000_events(home, watcher):
    folder, _ = watcher
    for i in range(1000):
        (folder / f"f{i:04}.txt").write_text(f"{i}\n")
    events = settle(home, 1000)
    assert len(events) == 1000
    assert {e["type"] for e in events} == {"file.created"}
    assert len({e["data"]["path"] for e in events}) == 1000


def test_editors_saves_give_one_modified_event(home, watcher):
    folder, _ = watcher
    target = folder / "existing.txt"
    # vim: a probe file, the original renamed to a backup, the new content written, the backup removed
    (folder / "4913").write_text("")
    os.unlink(folder / "4913")
    os.rename(target, folder / "existing.txt~")
    target.write_text("v2\n")
    os.unlink(folder / "existing.txt~")
    events = settle(home, 1)
    assert [(e["type"], e["data"]["name"]) for e in events] == [("file.modified", "existing.txt")]
    # gedit / VS Code: a hidden temporary file renamed over the original
    tmp = folder / ".goutputstream-ABC123"
    tmp.write_text("v3\n")
    os.rename(tmp, target)
    events = settle(home, 2)
    assert [(e["type"], e["data"]["name"]) for e in events][1:] == [("file.modified", "existing.txt")]
    # emacs: an autosave file comes and goes
    (folder / "#existing.txt#").write_text("draft")
    os.unlink(folder / "#existing.txt#")
    # a file created and deleted within the debounce: nothing
    (folder / "blip.txt").write_text("x")
    os.unlink(folder / "blip.txt")
    assert len(settle(home, 2)) == 2


def test_moves_and_deletes(home, watcher):
    folder, _ = watcher
    os.rename(folder / "existing.txt", folder / "renamed.txt")
    events = settle(home, 1)
    assert [(e["type"], e["data"]["name"], e["data"]["from"]) for e in events] == [
        ("file.moved", "renamed.txt", str(folder / "existing.txt"))]
    os.unlink(folder / "renamed.txt")
    events = settle(home, 2)
    assert (events[1]["type"], events[1]["data"]["name"]) == ("file.deleted", "renamed.txt")


def test_a_deleted_watched_folder_is_a_clear_error(home, watcher):
    folder, proc = watcher
    import shutil

    shutil.rmtree(folder)
    code = proc.wait(timeout=120)  # a hang guard
    err = proc.stderr.read().decode()
    assert code == 1 and "the watched folder does not exist (or was deleted)" in err and str(folder) in err
    assert "Traceback" not in err


def test_a_file_given_as_the_folder_to_watch_is_said_to_be_a_file(home, tmp_path):
    """`assist ingest watch notes.md` said "the watched folder does not exist (or was deleted)" of a file
    that is there: it says what it is and what to do instead."""
    note = tmp_path / "notes.md"
    note.write_text("hi\n")
    r = run(["ingest", "watch", str(note), "--once"])
    assert r.code == 1 and f"{note}: not a folder (watch the folder it is in, with --glob" in r.err, r.err


def test_once_compares_with_the_last_run(home, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("a")
    (folder / "b.md").write_text("b")
    (folder / "skip.log").write_text("x")
    first = run(["ingest", "watch", str(folder), "--once", "--glob", "*.md"])
    assert sorted((e["type"], e["data"]["name"]) for e in first.lines) == [
        ("file.created", "a.md"), ("file.created", "b.md")]
    assert run(["ingest", "watch", str(folder), "--once", "--glob", "*.md"]).lines == []
    time.sleep(0.01)
    (folder / "a.md").write_text("a, longer")
    os.unlink(folder / "b.md")
    third = run(["ingest", "watch", str(folder), "--once", "--glob", "*.md"])
    assert sorted((e["type"], e["data"]["name"]) for e in third.lines) == [
        ("file.deleted", "b.md"), ("file.modified", "a.md")]
    r = run(["ingest", "watch", str(tmp_path / "missing"), "--once"])
    assert r.code == 1 and "does not exist" in r.err


def test_a_file_name_that_is_not_utf8_is_an_event_and_the_others_go_on(home, tmp_path):
    """A file named with bytes that are not UTF-8 (unpacked from an archive, written by another system)
    is a str with lone surrogates in Python, which neither the event's id nor any JSON writer takes:
    `assist ingest watch` ended in a traceback and the other files were never reported. Now the name is
    read as UTF-8 where it is and U+FFFD where it is not."""
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "good.txt").write_text("y\n")
    with open(os.path.join(os.fsencode(folder), b"caf\xc3\xa9-\xff.txt"), "wb") as f:
        f.write(b"x\n")
    r = run(["ingest", "watch", str(folder), "--once"])
    assert r.code == 0, r.err
    names = sorted(e["data"]["name"] for e in r.lines)
    assert names == ["café-\ufffd.txt", "good.txt"]
    assert run(["ingest", "watch", str(folder), "--once"]).lines == []  # the state keeps the names too
