"""What only the Redis backend has to survive: its server restarting, and workers on several hosts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_client

from assist.errors import Unavailable
from assist.queue.settings import QueueSettings
from conftest import jsonl, run, start_redis
from helpers.queue_worker import backend

WORKER = str(Path(__file__).parent / "helpers" / "queue_worker.py")
SETTINGS = QueueSettings(lease_s=60, backoff_base_s=0.01, backoff_max_s=0.05, max_attempts=50)


def _restart_mid_run(tmp_path: Path, fsync: str, sig: int) -> None:
    folder = tmp_path / "redis"
    server, url = start_redis(folder, "--appendfsync", fsync)
    port = url.rsplit(":", 1)[1].split("/")[0]
    acked = tmp_path / "acked"
    backend(url, SETTINGS).queue("q")
    producer = subprocess.Popen([sys.executable, WORKER, "produce", url, "q", "0", "20000", str(acked)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not acked.exists() or len(acked.read_text().split()) < 500):
        time.sleep(0.02)
    server.send_signal(sig)  # mid-run: the producer is still putting
    server.wait(timeout=30)
    server = subprocess.Popen(["redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", str(folder),
                               "--save", "", "--appendonly", "yes", "--appendfsync", fsync],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert producer.wait(timeout=120) == 0, "the producer rode out the restart"
        ids = acked.read_text().split()
        assert len(ids) == 20000
        client = redis_client.Redis.from_url(url)
        stored = client.hlen("assist:{q}:state")
        assert stored == 20000, f"{20000 - stored} acknowledged puts lost"
        q = backend(url, SETTINGS).queue("q")
        assert q.stats()["depth"]["new"] == 20000
        done = 0
        while True:
            leases = q.claim(500)
            if not leases:
                break
            for lease in leases:
                q.ack(lease)
            done += len(leases)
        assert done == 20000
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_server_killed_mid_run_with_appendfsync_always_loses_no_acknowledged_put(tmp_path):
    _restart_mid_run(tmp_path, "always", signal.SIGKILL)


def test_server_restarted_mid_run_with_appendfsync_everysec_loses_nothing(tmp_path):
    _restart_mid_run(tmp_path, "everysec", signal.SIGTERM)


def test_consumers_killed_while_draining_lose_nothing(fresh_redis, tmp_path):
    url, stop = fresh_redis, tmp_path / "stop"
    subprocess.run([sys.executable, WORKER, "produce", url, "q", "0", "1500"], check=True)
    logs, consumers, killed = [], [], set()

    def spawn():
        log = tmp_path / f"c{len(logs)}.log"
        logs.append(log)
        consumers.append(subprocess.Popen([sys.executable, WORKER, "consume", url, "q", str(log), str(stop), "0.005"]))

    def working(i: int) -> bool:  # it has claimed tasks: a slow start must not make the kill a no-op
        return logs[i].exists() and b"claim" in logs[i].read_bytes()

    for _ in range(3):
        spawn()
    for _ in range(5):
        time.sleep(0.4)
        i = next((i for i, c in enumerate(consumers) if c.poll() is None), None)
        if i is None:
            break
        deadline = time.monotonic() + 60
        while not working(i) and time.monotonic() < deadline:
            time.sleep(0.01)
        victim = consumers[i]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed.add(str(victim.pid))
        spawn()
    stop.touch()
    for c in consumers:
        c.wait(timeout=120)
    q = backend(url, SETTINGS).queue("q")
    stats = q.stats()
    assert stats["depth"]["done"] == 1500 and stats["depth"]["cur"] == 0 and stats["depth"]["new"] == 0
    claims: dict[str, list[str]] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            kind, n, pid = line.split()
            if kind == "claim":
                claims.setdefault(n, []).append(pid)
    assert len(killed) >= 3
    for n, pids in claims.items():
        assert len([p for p in pids if p not in killed]) <= 1, (n, pids)
    assert any(len(p) > 1 for p in claims.values()), "a killed consumer's tasks were delivered again"


def test_a_worker_on_another_host_keeps_its_lease_until_it_expires(fresh_redis):
    url = fresh_redis
    q = backend(url, SETTINGS).queue("inbox")
    from assist.task import normalize

    q.put(normalize({"type": "t"}, source="test"))
    env = dict(os.environ, ASSIST_HOST="other-host")
    subprocess.run([sys.executable, WORKER, "claim-and-exit", url, "inbox", "1.0"], check=True, env=env)
    # its process is gone, but it ran on another host: only the lease deadline can free the task
    assert q.reap()["requeued"] == 0
    assert q.stats()["depth"]["cur"] == 1
    [info] = list(q.list("cur"))
    assert info.deadline_ms is not None
    time.sleep(1.2)
    assert q.reap()["requeued"] == 1
    time.sleep(0.1)  # past the retry backoff
    [lease] = q.claim()
    assert "other-host" in lease.doc["meta"]["last_error"]


def test_every_command_works_unchanged_on_redis(fresh_redis, home):
    url = fresh_redis
    r = run(["--queue-url", url, "enqueue", "--queue", "in"], jsonl({"type": "a", "id": "RA1"}, {"type": "b"}))
    assert r.code == 0, r.err
    os.environ["ASSIST_QUEUE_URL"] = url
    try:
        rows = run(["queue", "ls", "--json"]).json()
        assert {row["type"] for row in rows} == {"a", "b"} and {row["state"] for row in rows} == {"new"}
        assert run(["queue", "cancel", "RA1"]).code == 0
        assert run(["queue", "show", "RA1"]).json()["state"] == "cancelled"
        assert run(["queue", "retry", "RA1"]).code == 0
        r = run(["stage", "passthrough", "--from", "in", "--to", "out"])
        assert r.code == 0, r.err
        stats = {s["queue"]: s for s in run(["queue", "stats", "--json"]).json()}
        assert stats["in"]["depth"]["done"] == 2 and stats["out"]["ready"] == 2
        assert run(["queue", "reap", "--json"]).json()["in"]["requeued"] == 0
        assert "purged 2" in run(["queue", "purge", "--older-than", "0s", "--queue", "in"]).out
        assert not (home / "spool" / "in").exists()  # nothing went to the local spool
    finally:
        del os.environ["ASSIST_QUEUE_URL"]


def test_redis_down_is_exit_69(home):
    r = run(["--queue-url", "redis://127.0.0.1:9/0", "enqueue"], jsonl({"type": "a"}), timeout=120)
    assert r.code == 69 and "unavailable" in r.err


def test_a_password_in_a_queue_url_is_never_printed(home):
    r = run(["--queue-url", "redis://:s3cret-pw@127.0.0.1:9/0", "enqueue"], jsonl({"type": "a"}), timeout=120)
    assert r.code == 69 and "unavailable" in r.err and "s3cret-pw" not in r.err, r.err
    r = run(["--queue-url", "redsi://me:s3cret-pw@127.0.0.1:9/0", "queue", "ls"])  # mistyped
    assert r.code == 78 and "redsi://me:***@127.0.0.1:9/0" in r.err and "s3cret-pw" not in r.err, r.err
    from redis.exceptions import ConnectionError as RedisConnectionError

    from assist.stores.redis import _Client

    def refused():
        raise RedisConnectionError("Connection refused.")

    with pytest.raises(Unavailable) as stores_down:  # the approvals, limits and journal kept in Redis
        _Client("redis://:s3cret-pw@127.0.0.1:9/0").call(refused)
    assert "redis://:***@127.0.0.1:9/0" in str(stores_down.value) and "s3cret-pw" not in str(stores_down.value)
    (home / "assist.toml").write_text('[queue]\nurl = "redis://:s3cret-pw@127.0.0.1:9/0"\n')
    r = run(["config", "paths"])
    assert r.code == 0 and "redis://:***@127.0.0.1:9/0" in r.out and "s3cret-pw" not in r.out
    logs = home / "logs"
    assert not logs.exists() or all("s3cret-pw" not in f.read_text() for f in logs.iterdir())


@pytest.mark.parametrize("url", ["redis://127.0.0.1:9/0"])
def test_queue_ls_against_a_dead_server_is_a_clear_error(home, url):
    r = run(["--queue-url", url, "queue", "ls"], timeout=120)
    assert r.code == 69 and "Traceback" not in r.err
