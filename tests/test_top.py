"""`assist top` in a real terminal: tmux at 80x24, keys sent with send-keys, the screen read with
capture-pane."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import ASSIST, BILLS_ROUTE, bill, jsonl, run


class Terminal:
    def __init__(self, home: Path, tmp_path: Path):
        self.socket = f"assist-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = tmp_path / "exit-code"
        # Textual draws on stderr: a traceback would stay on the screen, which the tests read after quitting
        command = (f"ASSIST_HOME={shlex.quote(str(home))} {ASSIST} top --interval 0.3;"
                   f" echo $? > {self.exit_file}; sleep 60")
        self.tmux("new-session", "-d", "-s", "top", "-x", "80", "-y", "24", command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-f", "/dev/null", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, env={**os.environ, "TERM": "xterm-256color"}).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "top")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "top", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def exit_code(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exit_file.exists() and self.exit_file.read_text().strip():
                return int(self.exit_file.read_text())
            time.sleep(0.1)
        raise AssertionError(f"assist top did not quit; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(home, tmp_path):
    terminals = []

    def start() -> Terminal:
        terminals.append(Terminal(home, tmp_path))
        return terminals[-1]

    yield start
    for t in terminals:
        t.close()


def test_an_empty_home_draws_and_quits_cleanly(terminal, home, tmp_path):
    assert not (home / "spool").exists()
    term = terminal()
    term.wait_for("q Quit")
    screen = term.wait_for("no queues yet")
    assert "0 queue(s)" in screen
    assert all(len(line) <= 80 for line in screen.splitlines())
    term.keys("q")
    assert term.exit_code() == 0
    assert "Traceback" not in term.screen() and "Error" not in term.screen()


def test_keys_approve_retry_and_inspect_the_selected_task(terminal, home, tmp_path):
    (home / "assist.toml").write_text(BILLS_ROUTE.format(vault=tmp_path / "vault"))
    broken = {"type": "t", "prompt": {"messages": [{"role": "user", "content": "hi"}], "model": "nowhere"}}
    assert run(["enqueue", "--queue", "act"], jsonl(bill("Gas bill"))).code == 0
    assert run(["act", "--from", "act", "--once"]).code == 0
    assert run(["enqueue", "--queue", "run"], jsonl(broken)).code == 0
    assert run(["run", "--from", "run", "--once"]).code == 1
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    [failed] = run(["queue", "ls", "--state", "failed", "--json"]).json()

    term = terminal()
    term.wait_for("q Quit")
    screen = term.wait_for("Gas bill: would run: notes.append")
    assert "1 waiting for you" in screen and "models.nowhere" in screen
    assert held["id"][-10:] in screen and failed["id"][-10:] in screen

    term.keys("i")  # the first row is selected: the held task
    screen = term.wait_for('"state": "hold"')
    assert '"subject": "Gas bill"' in screen
    term.keys("Escape")
    term.wait_for("q Quit")

    term.keys("a")  # what it would run, then the question
    screen = term.wait_for("approve? y approves")
    assert "notes.append:" in screen and "note: Bills" in screen
    term.keys("n")
    term.wait_for(f"not approved: {held['id']} stays held")
    assert run(["queue", "show", held["id"]]).json()["state"] == "hold"
    term.keys("a")
    term.wait_for("approve? y approves")
    term.keys("y")
    term.wait_for(f"approve: act/{held['id']}")
    shown = run(["queue", "show", held["id"]]).json()
    assert shown["state"] == "new" and [(a["kind"], a["by"]) for a in shown["approvals"]] == [("plan", "top")]

    term.wait_for("0 waiting for you")
    term.keys("r")  # the failed task is the only row left
    term.wait_for(f"retry: run/{failed['id']}")
    assert run(["queue", "show", failed["id"]]).json()["state"] == "new"

    term.keys("q")
    assert term.exit_code() == 0
    assert "Traceback" not in term.screen()


def test_a_send_to_an_address_that_looks_like_another_says_where_it_goes(terminal, home):
    """The person approves from the row: where a held send really goes comes first, before the subject
    can push it out of the column (tests/test_hostile.py has the notices themselves)."""
    (home / "assist.toml").write_text('[routes.outbox]\nactions = ["email.send"]\nconfirm = ["email.send"]\n')
    send = {"type": "email.send", "args": {"to": '"accounting@example.org" <drop@evil.example>',
                                           "subject": "figures", "body": "attached"}}
    doc = {"type": "email.received", "data": {"subject": "Please send the Q3 figures to accounting today"},
           "intent": {"route": "outbox"}, "result": {"parsed": {"actions": [send]}}}
    assert run(["act"], jsonl(doc)).code == 0
    term = terminal()
    screen = term.wait_for("look: goes to drop@evil.example")
    assert "1 waiting for you" in screen
    term.keys("q")
    assert term.exit_code() == 0


def test_a_task_without_a_route_gets_one_from_a_picker(terminal, home, tmp_path):
    from conftest import UNSURE_ROUTES

    (home / "assist.toml").write_text(BILLS_ROUTE.format(vault=tmp_path / "vault") + UNSURE_ROUTES)
    assert run(["enqueue", "--queue", "inbox"], jsonl({"type": "text", "data": {"text": "jazz tonight"}})).code == 0
    assert run(["classify", "--from", "inbox", "--to", "prompt", "--once"]).code == 0
    [held] = run(["queue", "ls", "--state", "hold", "--json"]).json()
    term = terminal()
    term.wait_for("q Quit")
    term.wait_for("needs a route (a)")
    # the person removes a route while top runs: the picker offers the routes the file names now, and of
    # those the ones that take the task's type (bills now takes mail only)
    music = UNSURE_ROUTES[UNSURE_ROUTES.index("[routes.music]"):]
    bills = BILLS_ROUTE.format(vault=tmp_path / "vault").replace("[routes.bills]\n",
                                                                  '[routes.bills]\ntypes = ["email.*"]\n')
    (home / "assist.toml").write_text(bills + music)
    term.keys("a")
    screen = term.wait_for("on which route?")
    assert "bills" not in screen and "shopping" not in screen and "music" in screen
    term.keys("Down")
    time.sleep(0.3)
    term.keys("Enter")
    term.wait_for(f"approve: inbox/{held['id']} on route music")
    intent = run(["queue", "show", held["id"]]).json()["task"]["intent"]
    assert intent["route"] == "music" and intent["by"] == "person"
    term.keys("q")
    assert term.exit_code() == 0


def test_a_running_task_shows_its_worker_and_command(terminal, home):
    from assist.config_file import load
    assert run(["enqueue", "--queue", "inbox"], jsonl({"type": "text", "data": {"text": "x"}})).code == 0
    queue = load(home).backend().queue("inbox")
    [lease] = queue.claim(1)  # this test process is the worker holding it
    try:
        term = terminal()
        term.wait_for("q Quit")
        screen = term.wait_for("1 running")
        row = next(line for line in screen.splitlines() if lease.id[-10:] in line)
        assert " cur " in f" {row} " and "python" in row  # the command line of the lease's owner
    finally:
        queue.ack(lease)
    shown = run(["queue", "ls", "--state", "done", "--json"]).json()
    assert [t["id"] for t in shown] == [lease.id]
