"""Many machines, one truth: with the queue on Redis, two "hosts" (two homes with their own state/, a
different ASSIST_HOST, one Redis) share the action journal, the approvals, the rate limits, the alert
budget and the models' health. The same tests run on one home with the spool, where the same interface
keeps them in SQLite and files: the semantics are the same."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import orjson
import pytest
from aiosmtpd.controller import Controller

from assist.demo.servers import SentFolder, start_dovecot
from conftest import ASSIST, free_port, imap_section, jsonl

HOSTS = ("alpha", "beta")


class Hosts:
    """The homes of the machines of one deployment, and how to run a command as each."""

    def __init__(self, homes: dict[str, Path]):
        self.homes = homes

    def env(self, host: str) -> dict[str, str]:
        return {**os.environ, "ASSIST_HOME": str(self.homes[host]), "ASSIST_HOST": host}

    def run(self, host: str, args: list[str], input: bytes | None = None, timeout: float = 120):
        return subprocess.run([ASSIST, *args], input=input, capture_output=True, timeout=timeout, env=self.env(host))

    def popen(self, host: str, args: list[str], stderr: int | IO[bytes] = subprocess.DEVNULL) -> subprocess.Popen:
        return subprocess.Popen([ASSIST, *args], stdout=subprocess.DEVNULL, stderr=stderr, env=self.env(host))


@pytest.fixture(params=["redis", "local"])
def deployment(request, tmp_path):
    """Two hosts on one Redis; or, as the baseline, one home with the spool (both "hosts" are it)."""
    def make(config: str) -> Hosts:
        if request.param == "redis":
            url = request.getfixturevalue("fresh_redis")
            homes = {}
            for host in HOSTS:
                home = tmp_path / host
                home.mkdir()
                (home / "assist.toml").write_text(config.replace("[queue]\n", f'[queue]\nurl = "{url}"\n', 1))
                homes[host] = home
            return Hosts(homes)
        home = tmp_path / "one"
        home.mkdir()
        (home / "assist.toml").write_text(config)
        return Hosts({host: home for host in HOSTS})

    make.kind = request.param
    return make


QUEUE_SECTION = """[queue]
backoff_base = "10ms"
backoff_max = "50ms"
lease = "30s"
max_attempts = 100
"""


@pytest.fixture
def mail():
    imap = start_dovecot()
    sent = SentFolder(imap)
    smtp = Controller(sent, hostname="127.0.0.1", port=free_port())
    smtp.start()
    os.environ["TEST_IMAP_PASSWORD"] = imap.password
    yield imap, sent, smtp.port
    smtp.stop()
    imap.stop()
    os.environ.pop("TEST_IMAP_PASSWORD", None)


def mail_config(imap, smtp_port: int, routes: str, limits: str = "") -> str:
    return f"""{routes}
[actions.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "assistant@example.org"

{imap_section(imap, sent="Sent")}
{limits}"""


def send_task(i: int, route: str = "mail") -> dict:
    return {"type": "email.received", "intent": {"route": route}, "result": {"parsed": {"actions": [
        {"type": "email.send", "args": {"to": f"user{i}@example.org", "subject": f"note {i}", "body": "hi"}}]}}}


def depth(hosts: Hosts, state: str) -> int:
    stats = hosts.run("alpha", ["queue", "stats", "--json"])
    rows = [row for row in orjson.loads(stats.stdout) if row["queue"] == "act"]
    return rows[0]["depth"][state] if rows else 0


def test_sends_are_exactly_once_across_hosts_under_sigkill(deployment, mail):
    imap, sent, port = mail
    hosts = deployment(QUEUE_SECTION + mail_config(imap, port, '[routes.mail]\nactions = ["email.send"]\n'))
    total = 500
    tasks = jsonl(*(send_task(i) for i in range(total)))
    assert hosts.run("alpha", ["enqueue", "--queue", "act"], tasks).returncode == 0
    rng = random.Random(7)
    workers = {(host, n): hosts.popen(host, ["act", "--from", "act", "--follow"]) for host in HOSTS for n in range(2)}
    kills = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and sum(sent.received.values()) < total * 0.9:
        time.sleep(rng.uniform(0.05, 0.3))
        victim = rng.choice(sorted(workers))
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait()
        kills += 1
        workers[victim] = hosts.popen(victim[0], ["act", "--from", "act", "--follow"])
    for worker in workers.values():
        worker.send_signal(signal.SIGTERM)
    for worker in workers.values():
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    for _ in range(20):  # what the killed ones held comes back when their leases expire or are reaped
        for host in HOSTS:
            hosts.run(host, ["act", "--from", "act", "--once"], timeout=300)
        if depth(hosts, "new") == 0 and depth(hosts, "cur") == 0:
            break
        time.sleep(0.5)
    assert kills >= 5
    assert depth(hosts, "done") == total
    assert len(sent.received) == total, "every message arrived"
    assert set(sent.received.values()) == {1}, "and none twice"


def test_a_rate_limit_holds_across_hosts(deployment, mail):
    imap, sent, port = mail
    hosts = deployment(QUEUE_SECTION.replace("max_attempts = 100", "max_attempts = 1") + mail_config(
        imap, port, '[routes.mail]\nactions = ["email.send"]\n', '[actions.limits]\n"email.send" = "2/h"\n'))
    assert hosts.run("alpha", ["enqueue", "--queue", "act"], jsonl(*(send_task(i) for i in range(6)))).returncode == 0
    procs = [hosts.popen(host, ["act", "--from", "act", "--once"]) for host in HOSTS]
    for proc in procs:
        proc.wait(timeout=120)
    assert sum(sent.received.values()) == 2  # "2/h" for the deployment, not per machine
    assert depth(hosts, "failed") == 4


def test_a_task_approved_through_one_host_runs_on_the_other(deployment, mail):
    imap, sent, port = mail
    hosts = deployment(QUEUE_SECTION + mail_config(imap, port, '[routes.mail]\nconfirm = ["email.send"]\n'))
    assert hosts.run("alpha", ["enqueue", "--queue", "act"], jsonl(send_task(1))).returncode == 0
    assert hosts.run("alpha", ["act", "--from", "act", "--once"]).returncode == 0
    [held] = orjson.loads(hosts.run("alpha", ["queue", "ls", "--state", "hold", "--json"]).stdout)
    assert sent.received == {}
    assert hosts.run("alpha", ["queue", "approve", held["id"]]).returncode == 0
    assert hosts.run("beta", ["act", "--from", "act", "--once"]).returncode == 0
    assert sum(sent.received.values()) == 1


def test_a_model_marked_down_by_one_host_is_skipped_by_the_other(deployment):
    from assist.ai.models import Models
    from assist.config_file import load

    hosts = deployment(QUEUE_SECTION + """
[models.first]
backend = "openai"
url = "http://127.0.0.1:9/v1"
model = "m"
[models.second]
backend = "openai"
url = "http://127.0.0.1:9/v1"
model = "m"
""")
    alpha, beta = (Models(load(hosts.homes[h])) for h in HOSTS)
    assert beta.cached_health("first") is None
    alpha.mark_down("first", "model first: cannot reach it")
    alpha.mark_up("second")
    assert beta.cached_health("first") is False and beta.cached_health("second") is True
    assert [b.name for b in beta.candidates()] == ["second", "first"]  # the one known down is tried last


def test_workers_show_by_host(deployment):
    hosts = deployment(QUEUE_SECTION)
    assert hosts.run("alpha", ["enqueue", "--queue", "act"], jsonl({"type": "t"})).returncode == 0
    with contextlib.ExitStack() as files:
        said = [files.enter_context(tempfile.TemporaryFile()) for _ in HOSTS]  # a stopped worker's words
        procs = [hosts.popen(host, ["stage", "passthrough", "--from", "idle", "--follow"], stderr=err)
                 for host, err in zip(HOSTS, said, strict=True)]
        try:
            deadline = time.monotonic() + 120  # a guard against a hang only: each worker registers as it starts
            found = []
            while time.monotonic() < deadline and all(proc.poll() is None for proc in procs):
                found = orjson.loads(hosts.run("alpha", ["queue", "workers", "--json"]).stdout)
                if len({w["host"] for w in found}) == 2:
                    break
                time.sleep(0.3)
            stopped = {host: (proc.returncode, err.seek(0) or err.read().decode(errors="replace")[-2000:])
                       for host, proc, err in zip(HOSTS, procs, said, strict=True) if proc.poll() is not None}
            assert sorted({w["host"] for w in found}) == ["alpha", "beta"], (found, stopped)
            assert all(w["queue"] == "idle" and w["stage"] == "passthrough" for w in found)
            stats = hosts.run("beta", ["queue", "stats"]).stdout.decode()
            assert "workers: alpha 1, beta 1" in stats
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
