"""Spool benchmark: the assist spool against persist-queue, litequeue, dirq and the bare-file floor.

Run by `scripts/bench spool`. One run measures everything, interleaved round by round, with durability on
(fsync for files, synchronous=FULL for SQLite), and prints tasks/s, the median of the rounds, and each
figure's ratio to its anchor measured in the same run:

    put (single task, durable)     anchor: bare write+fsync+rename of one file per task (the floor)
    batch enqueue (5,000 lines)    anchor: the same floor; assist runs as the real `assist enqueue` command
    claim+ack                      target: 5,000 tasks/s
    end to end (1 producer, 2 consumer processes)   anchors: persist-queue and dirq
        e2e: the producer puts one task at a time (each durable before the next)
        e2e-batch: the producer puts 100 at a time with the system's batch put, if it has one
    cold start of `assist queue ls` on an empty spool   anchor: `python -c pass`, same interpreter
    the Redis backend against RQ on the same Redis server (AOF on), with appendfsync always and everysec:
        put, claim+ack, end to end; target: e2e ≥ 3x RQ's
        e2e-2hosts: the same end to end with two groups of two consumers, each group another host
        (ASSIST_HOST): the ratio to one host (on one 2-core machine: no gain to expect, no loss allowed)

Consumers that find nothing wait as each system is meant to: assist on its inotify watch (as `--follow`
workers do), the others by polling every 0.5 ms. dirq's QueueSimple has no fsync option, so its puts are
not durable (it is shown as is).
persist-queue's SQLiteAckQueue is not built for several processes; its end-to-end run may deliver a task
twice, which the output reports.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
ASSIST = str(Path(PY).parent / "assist")
PAYLOAD = {"type": "email.received", "source": "imap://bench",
           "data": {"from": "a@example.org", "subject": "quarterly numbers", "body_text": "x" * 160}}
FILE_SYSTEMS = ["assist", "persist-queue", "litequeue", "dirq", "bare", "assist-nofsync"]
REDIS_SYSTEMS = ["assist-redis/always", "rq/always", "assist-redis/everysec", "rq/everysec"]
SYSTEMS = FILE_SYSTEMS + REDIS_SYSTEMS
REDIS_URLS: dict[str, str] = {}  # appendfsync setting -> URL of the server started for it


# -- per-system adapters (each used in this process and in consumer processes) ------------------------

class AssistQ:
    fsync = True

    def __init__(self, path: str):
        from assist.queue.settings import QueueSettings
        from assist.queue.spool import Spool

        self.q = Spool(Path(path), QueueSettings(lease_s=600, fsync=self.fsync)).queue("bench")
        self._n = 0

    def put(self, doc: dict) -> None:
        from assist.task import normalize

        self.q.put(normalize(dict(doc), source="bench"))

    def put_batch(self, docs: list[dict]) -> None:
        from assist.task import normalize

        self.q.put_many([normalize(dict(d), source="bench") for d in docs])

    def get_ack(self) -> bool:
        leases = self.q.claim(1)
        if not leases:
            return False
        self.q.ack(leases[0])
        return True

    def idle(self) -> None:
        self.q.wait(0.05)  # woken by inotify when a task arrives, as `--follow` workers are


class AssistNoSyncQ(AssistQ):
    """The spool with queue.fsync = false: like for like with dirq, which never syncs."""

    fsync = False


class AssistRedisQ:
    """The assist Redis Streams backend. `path` is the server's URL."""

    def __init__(self, path: str):
        from assist.queue.redis import RedisBackend
        from assist.queue.settings import QueueSettings

        self.q = RedisBackend(path, QueueSettings(lease_s=600)).queue("bench")

    put = AssistQ.put
    put_batch = AssistQ.put_batch
    get_ack = AssistQ.get_ack

    def idle(self) -> None:
        self.q.wait(0.05)  # blocks on the streams (XREAD), as `--follow` workers do


class RQQ:
    """RQ (python-rq) on the same Redis: enqueue a no-op job; a SimpleWorker in burst mode drains."""

    def __init__(self, path: str):
        import redis
        from rq import Queue as RQQueue

        self.r = redis.Redis.from_url(path)
        self.q = RQQueue("bench", connection=self.r)

    def put(self, doc: dict) -> None:
        self.q.enqueue("rq_job.handle", doc)

    def put_batch(self, docs: list[dict]) -> None:
        self.q.enqueue_many([self.q.prepare_data("rq_job.handle", args=(doc,)) for doc in docs])

    def drain(self) -> int:
        from rq import SimpleWorker

        ran = []

        class CountingWorker(SimpleWorker):
            def execute_job(self, job: Any, queue: Any) -> Any:
                ran.append(1)
                return super().execute_job(job, queue)

        CountingWorker([self.q], connection=self.r).work(burst=True, logging_level="WARNING")
        return len(ran)

    def empty(self) -> bool:
        return self.q.count == 0


class PersistQ:
    def __init__(self, path: str):
        from persistqueue import SQLiteAckQueue

        self.q = SQLiteAckQueue(path, multithreading=True, auto_commit=True, timeout=60)
        for conn in (self.q._conn, self.q._putter):
            assert conn is not None
            conn.execute("PRAGMA synchronous = FULL")

    def put(self, doc: dict) -> None:
        self.q.put(doc)

    def get_ack(self) -> bool:
        try:
            item = self.q.get(block=False)
        except Exception:  # persistqueue.Empty
            return False
        self.q.ack(item)
        return True


class LiteQ:
    def __init__(self, path: str):
        from litequeue import LiteQueue

        os.makedirs(path, exist_ok=True)
        self.q = LiteQueue(os.path.join(path, "q.db"), timeout=60)
        self.q.conn.execute("PRAGMA synchronous = FULL")

    def put(self, doc: dict) -> None:
        self.q.put(orjson.dumps(doc).decode())

    def put_batch(self, docs: list[dict]) -> None:
        with self.q.transaction():
            for doc in docs:
                self.q.conn.execute(
                    f"INSERT INTO {self.q.table} (data, message_id, status, in_time) VALUES (?, ?, 0, ?)",
                    (orjson.dumps(doc).decode(), os.urandom(16).hex(), time.time_ns()))

    def get_ack(self) -> bool:
        message = self.q.pop()
        if message is None:
            return False
        self.q.done(message.message_id)
        return True


class DirQ:
    def __init__(self, path: str):
        from dirq.QueueSimple import QueueSimple

        self.q = QueueSimple(path)
        self._names: list[str] = []

    def put(self, doc: dict) -> None:
        self.q.add(orjson.dumps(doc))

    def get_ack(self) -> bool:
        while True:
            if not self._names:
                self._names = sorted(self.q.names()) if hasattr(self.q, "names") else list(self.q)
                if not self._names:
                    return False
            name = self._names.pop(0)
            if self.q.lock(name):
                self.q.get(name)
                self.q.remove(name)
                return True


class BareQ:
    """The floor of a file-per-task design: write, fsync, rename; claim and ack are two renames."""

    def __init__(self, path: str):
        self.root = Path(path)
        for sub in ("tmp", "new", "cur", "done"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._n = 0
        self._names: list[str] = []

    def put(self, doc: dict) -> None:
        self._n += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self._n}"
        tmp = f"{self.root}/tmp/{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, orjson.dumps(doc))
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, f"{self.root}/new/{name}")

    def put_batch(self, docs: list[dict]) -> None:
        """Write them all, one syncfs, then rename them all into new/."""
        names = []
        for doc in docs:
            self._n += 1
            name = f"{time.time_ns()}-{os.getpid()}-{self._n}"
            fd = os.open(f"{self.root}/tmp/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, orjson.dumps(doc))
            os.close(fd)
            names.append(name)
        from assist.queue.spool import _syncfs

        fd = os.open(self.root, os.O_RDONLY)
        _syncfs(fd)
        os.close(fd)
        for name in names:
            os.rename(f"{self.root}/tmp/{name}", f"{self.root}/new/{name}")

    def get_ack(self) -> bool:
        while True:
            if not self._names:
                self._names = sorted(os.listdir(self.root / "new"))
                if not self._names:
                    return False
            name = self._names.pop(0)
            try:
                os.rename(f"{self.root}/new/{name}", f"{self.root}/cur/{name}")
            except FileNotFoundError:
                continue
            os.rename(f"{self.root}/cur/{name}", f"{self.root}/done/{name}")
            return True


ADAPTERS = {"assist": AssistQ, "assist-nofsync": AssistNoSyncQ, "persist-queue": PersistQ, "litequeue": LiteQ,
            "dirq": DirQ, "bare": BareQ, "assist-redis": AssistRedisQ, "rq": RQQ}


def adapter(system: str, work: Path) -> Any:
    """The queue of a system: file systems in a fresh folder, Redis ones on their server (flushed)."""
    name, _, fsync = system.partition("/")
    if fsync:
        import redis

        redis.Redis.from_url(REDIS_URLS[fsync]).flushdb()
        return ADAPTERS[name](REDIS_URLS[fsync])
    return ADAPTERS[name](str(work / "q"))


def location(system: str, work: Path) -> str:
    fsync = system.partition("/")[2]
    return REDIS_URLS[fsync] if fsync else str(work / "q")


# -- scenarios ---------------------------------------------------------------------------------------

def bench_put(system: str, work: Path, n: int) -> float:
    q = adapter(system, work)
    start = time.perf_counter()
    for _ in range(n):
        q.put(PAYLOAD)
    return n / (time.perf_counter() - start)


def bench_batch(system: str, work: Path, n: int) -> float:
    """5,000 tasks at once. assist: the real `assist enqueue` command (process start included)."""
    if system.startswith("assist"):
        home = work / "home"
        home.mkdir()
        if system == "assist-nofsync":
            (home / "assist.toml").write_text("[queue]\nfsync = false\n")
        lines = b"".join(orjson.dumps(PAYLOAD) + b"\n" for _ in range(n))
        env = dict(os.environ, ASSIST_HOME=str(home))
        if "/" in system:
            adapter(system, work)  # flush its server
            env["ASSIST_QUEUE_URL"] = location(system, work)
        start = time.perf_counter()
        proc = subprocess.run([ASSIST, "enqueue", "--queue", "bench"], input=lines, env=env, capture_output=True)
        elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr
        if "/" not in system:
            assert len(os.listdir(home / "spool" / "bench" / "new")) == n
        return n / elapsed
    if system.startswith("rq/"):
        q = adapter(system, work)
        start = time.perf_counter()
        for i in range(0, n, 500):
            q.put_batch([PAYLOAD] * min(500, n - i))
        return n / (time.perf_counter() - start)
    if system == "persist-queue":  # its batch mode: one commit for the lot
        from persistqueue import SQLiteAckQueue

        q = SQLiteAckQueue(str(work / "q"), auto_commit=False)
        q._conn.execute("PRAGMA synchronous = FULL")
        start = time.perf_counter()
        for _ in range(n):
            q.put(PAYLOAD)
        q.task_done()
        return n / (time.perf_counter() - start)
    if system == "litequeue":  # its batch mode: one transaction
        q = LiteQ(str(work / "q"))
        start = time.perf_counter()
        with q.q.transaction():
            for _ in range(n):
                q.q.conn.execute(f"INSERT INTO {q.q.table} (data, message_id, status, in_time) VALUES (?, ?, 0, ?)",
                                 (orjson.dumps(PAYLOAD).decode(), f"m{_}", time.time_ns()))
        return n / (time.perf_counter() - start)
    return bench_put(system, work, n)  # dirq and the bare floor have no batch mode


def bench_claim_ack(system: str, work: Path, n: int) -> float:
    q = adapter(system, work)
    if system.startswith("assist"):
        from assist.task import normalize

        for i in range(0, n, 500):
            q.q.put_many([normalize(dict(PAYLOAD), source="bench") for _ in range(min(500, n - i))])
    elif hasattr(q, "put_batch") and system.startswith("rq"):
        for i in range(0, n, 500):
            q.put_batch([PAYLOAD] * min(500, n - i))
    else:
        for _ in range(n):
            q.put(PAYLOAD)
    start = time.perf_counter()
    done = 0
    if hasattr(q, "drain"):
        done = q.drain()
    else:
        while q.get_ack():
            done += 1
    elapsed = time.perf_counter() - start
    assert done == n, (system, done, n)
    return n / elapsed


def bench_end_to_end(system: str, work: Path, n: int, batch: int = 1, hosts: int = 1) -> tuple[float, int] | None:
    """1 producer and 2 consumer processes per host; returns tasks/s (unique tasks) and duplicate
    deliveries. With hosts > 1 (assist on Redis only), each group of consumers runs as another host
    (ASSIST_HOST), as workers on several machines sharing one Redis do.

    With batch > 1 the producer stores `batch` tasks at a time with the system's batch put, where it has
    one (assist put_many, a litequeue transaction, the bare floor's one syncfs); the others put singly."""
    if hosts > 1 and not system.startswith("assist-redis"):
        return None
    adapter(system, work)  # create (or flush) it before the processes race to
    path = location(system, work)
    flag = work / "producer-done"
    me = str(Path(__file__).resolve())
    start = time.perf_counter()
    consumers = [subprocess.Popen([PY, me, "_consume", system, path, str(flag)], stdout=subprocess.PIPE,
                                  env={**os.environ, "ASSIST_HOST": f"host{h}"})
                 for h in range(hosts) for _ in range(2)]
    producer = subprocess.Popen([PY, me, "_produce", system, path, str(n), str(batch)])
    assert producer.wait() == 0
    flag.touch()
    results = [orjson.loads(c.communicate()[0]) for c in consumers]
    end = max(r["end"] for r in results)
    elapsed = end - (time.time() - (time.perf_counter() - start))
    delivered = sum(r["count"] for r in results)
    assert delivered >= n, (system, delivered, n)
    return n / elapsed, delivered - n


def _produce(system: str, path: str, n: int, batch: int) -> None:
    q: Any = ADAPTERS[system.partition("/")[0]](path)
    if batch > 1 and hasattr(q, "put_batch"):
        for i in range(0, n, batch):
            q.put_batch([PAYLOAD] * min(batch, n - i))
        return
    for _ in range(n):
        q.put(PAYLOAD)


def _consume(system: str, path: str, flag: str) -> None:
    q: Any = ADAPTERS[system.partition("/")[0]](path)
    count = 0
    while hasattr(q, "drain"):  # RQ: a burst worker drains what is there; again until the producer is done
        count += q.drain()
        if os.path.exists(flag) and q.empty():
            count += q.drain()
            sys.stdout.write(orjson.dumps({"count": count, "end": time.time()}).decode())
            return
        time.sleep(0.01)
    while True:
        if q.get_ack():
            count += 1
            continue
        if os.path.exists(flag) and not q.get_ack():
            break
        if hasattr(q, "idle"):
            q.idle()
        else:
            time.sleep(0.0005)
    sys.stdout.write(orjson.dumps({"count": count, "end": time.time()}).decode())


def start_redis(folder: Path, fsync: str) -> subprocess.Popen:
    """Debian's redis-server on a free loopback port, AOF on with the given appendfsync."""
    import socket

    import redis

    folder.mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "yes", "--appendfsync", fsync],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    REDIS_URLS[fsync] = f"redis://127.0.0.1:{port}/0"
    return proc


def warm_up(base: Path) -> None:
    """Create many files first: the first inodes a file system hands out in a while come from cold
    bitmaps and are several times slower, which would otherwise fall on whoever runs first. Nothing is
    deleted before the end of the run either: on a file system mounted with `discard`, deletions make the
    following journal commits slower, which would fall on whoever runs next."""
    folder = base / "warm-up"
    folder.mkdir(parents=True)
    for i in range(30_000):
        fd = os.open(folder / str(i), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x" * 300)
        os.close(fd)
    os.sync()  # kept until the end: deleting files here (a `discard` mount) would slow the next syncs


def bench_cold_start(runs: int) -> tuple[float, float]:
    """Median wall time of `assist queue ls` on an empty spool and of `python -c pass`."""
    home = Path(tempfile.mkdtemp(prefix="assist-cold-"))
    shutil.copy(REPO / "assist.toml", home / "assist.toml")
    env = dict(os.environ, ASSIST_HOME=str(home))
    subprocess.run([ASSIST, "queue", "ls"], env=env, check=True, capture_output=True)  # first run checks config
    ls_times: list[float] = []
    py_times: list[float] = []
    for _ in range(runs):
        for cmd, times in (([ASSIST, "queue", "ls"], ls_times), ([PY, "-c", "pass"], py_times)):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
    shutil.rmtree(home)
    return statistics.median(ls_times), statistics.median(py_times)


# -- the run -----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--put", type=int, default=500, help="tasks for the single-put test")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--claim", type=int, default=3000)
    parser.add_argument("--e2e", type=int, default=3000)
    parser.add_argument("--dir", default=None, help="where to run (default: a temporary folder on /work's disk)")
    args = parser.parse_args()

    subprocess.run([PY, "-m", "compileall", "-q", str(REPO / "cli" / "assist")], check=True,
                   capture_output=True)  # as an installed package would be, even with PYTHONDONTWRITEBYTECODE
    base = Path(args.dir or tempfile.mkdtemp(prefix="assist-bench-", dir=REPO / "bench"))
    warm_up(base)
    servers = [start_redis(base / f"redis-{fsync}", fsync) for fsync in ("always", "everysec")]
    scenarios = {
        "put": lambda s, w: bench_put(s, w, args.put),
        "batch": lambda s, w: bench_batch(s, w, args.batch),
        "claim+ack": lambda s, w: bench_claim_ack(s, w, args.claim),
        "e2e": lambda s, w: bench_end_to_end(s, w, args.e2e),
        "e2e-batch": lambda s, w: bench_end_to_end(s, w, args.e2e, batch=100),
        "e2e-2hosts": lambda s, w: bench_end_to_end(s, w, args.e2e, hosts=2),
    }
    rates: dict[tuple[str, str], list[float]] = {}
    dupes: dict[str, int] = {}
    cold: list[tuple[float, float]] = []
    try:
        for r in range(args.rounds):
            for name, fn in scenarios.items():
                order = SYSTEMS[r % len(SYSTEMS):] + SYSTEMS[: r % len(SYSTEMS)]  # rotate who goes first
                for system in order:
                    work = base / f"{r}-{name}-{system}"
                    work.mkdir(parents=True)
                    result = fn(system, work)
                    if result is None:  # a scenario only some systems have
                        continue
                    if isinstance(result, tuple):
                        result, dup = result
                        dupes[system] = dupes.get(system, 0) + dup
                    rates.setdefault((name, system), []).append(result)
            cold.append(bench_cold_start(15))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\nassist spool benchmark: {args.rounds} rounds, median tasks/s (durable: fsync / synchronous=FULL)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, disk of {base.parent}\n")
    for group in (FILE_SYSTEMS, REDIS_SYSTEMS):
        print(f"{'scenario':<11}" + "".join(f"{s:>23}" if "/" in s else f"{s:>15}" for s in group))
        for name in scenarios:
            cells = [med.get((name, s)) for s in group]
            if all(c is None for c in cells):
                continue
            print(f"{name:<11}" + "".join((f"{c:>23,.0f}" if "/" in s else f"{c:>15,.0f}") if c is not None else
                                          (f"{'-':>23}" if "/" in s else f"{'-':>15}") for s, c in zip(group, cells,
                                                                                                        strict=True)))
        print()
    ls_s = statistics.median(c[0] for c in cold)
    py_s = statistics.median(c[1] for c in cold)
    checks = [
        ("put / bare floor", med[("put", "assist")] / med[("put", "bare")], 0.8),
        ("batch enqueue / bare floor", med[("batch", "assist")] / med[("put", "bare")], 1.5),
        ("claim+ack tasks/s / 5,000", med[("claim+ack", "assist")] / 5000, 1.0),
        ("e2e / persist-queue", med[("e2e", "assist")] / med[("e2e", "persist-queue")], 1.0),
        ("e2e / dirq", med[("e2e", "assist")] / med[("e2e", "dirq")], 1.0),
        ("e2e-batch / persist-queue", med[("e2e-batch", "assist")] / med[("e2e-batch", "persist-queue")], 1.0),
        ("e2e-batch / dirq", med[("e2e-batch", "assist")] / med[("e2e-batch", "dirq")], 1.0),
        ("e2e without fsync / dirq (never syncs)", med[("e2e", "assist-nofsync")] / med[("e2e", "dirq")], 1.0),
        ("redis e2e / rq e2e, appendfsync always",
         med[("e2e", "assist-redis/always")] / med[("e2e", "rq/always")], 3.0),
        ("redis e2e / rq e2e, appendfsync everysec",
         med[("e2e", "assist-redis/everysec")] / med[("e2e", "rq/everysec")], 3.0),
        ("redis e2e two hosts / one host, always",  # 2 cores: no gain to expect, and no loss allowed
         med[("e2e-2hosts", "assist-redis/always")] / med[("e2e", "assist-redis/always")], 0.8),
        ("python -c pass / queue ls cold start (x5)", 5 * py_s / ls_s, 1.0),
    ]
    print(f"\ncold start: assist queue ls {ls_s * 1000:.1f} ms, python -c pass {py_s * 1000:.1f} ms "
          f"({ls_s / py_s:.2f}x)")
    if any(dupes.values()):
        print("duplicate deliveries in e2e: " + ", ".join(f"{k} {v}" for k, v in dupes.items() if v))
    print(f"\n{'ratio':<44}{'value':>8}{'target':>9}  met")
    for label, value, target in checks:
        print(f"{label:<44}{value:>8.2f}{target:>9.2f}  {'yes' if value >= target else 'NO'}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"spool-{time.strftime('%Y%m%dT%H%M%S')}.json").write_bytes(orjson.dumps(
        {"rates": {f"{k[0]}/{k[1]}": v for k, v in rates.items()}, "cold_start": cold, "dupes": dupes},
        option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_produce":
        _produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_consume":
        _consume(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
