"""Ingestion benchmark: `assist ingest http` under load, and IMAP ingestion of the SpamAssassin corpus.

Run by `scripts/bench ingest`. HTTP: wrk (Debian's) posts JSON events with a bearer JWT for 30 s from its
own process, over keep-alive connections on loopback; the server stores every event durably (one sync per
group of requests) before its 202. Printed: requests/s, p50/p99 latency, and the number of tasks in the
spool, which must equal the number of 2xx answers. The anchor, measured in the same run against the same
server: GET /healthz (no auth, no storage), the floor of this server stack. Targets: >= 1,000 req/s,
p99 <= 50 ms. IMAP: the 600 messages of ../shared/data/email/spamassassin delivered to a real dovecot,
then `assist ingest imap --once --to inbox`: messages/s (skipped, and said so, when ../shared is absent).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSIST = str(Path(sys.executable).parent / "assist")
SHARED = REPO.parent / "shared" / "data" / "email" / "spamassassin"

POST_LUA = """
wrk.method = "POST"
wrk.body = '{"text": "remind me to water the plants", "from": "bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
           "requests": int(re.search(r"(\d+) requests in", text).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        out[f"p{pct}_ms"] = ms(re.search(rf"\s{pct}(?:\.000)?%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(bad.group(1)) if bad else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in errors.groups()) if errors else 0
    return out


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *(["-s", str(script)] if script else []),
           url]
    return parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def bench_http(work: Path, seconds: int, connections: int) -> None:
    home = work / "http-home"
    home.mkdir()
    env = dict(os.environ, ASSIST_HOME=str(home))
    subprocess.run([ASSIST, "token", "init"], env=env, check=True, capture_output=True)
    token = subprocess.run([ASSIST, "token", "jwt", "--audience", "ingest", "--ttl", "1h"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    script = work / "post.lua"
    script.write_text(POST_LUA % token)
    port = free_port()
    server = subprocess.Popen([ASSIST, "ingest", "http", "--port", str(port), "--to", "bench", "--rate", "1e9",
                               "--burst", "1000000000"], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        anchor = wrk(f"{url}/healthz", seconds, connections, None)
        load = wrk(f"{url}/trigger/note", seconds, connections, script)
    finally:
        server.terminate()
        server.wait(timeout=30)
    spooled = len(os.listdir(home / "spool" / "bench" / "new"))
    import orjson

    stopped = [orjson.loads(line) for line in (home / "logs" / "ingest-http.jsonl").read_bytes().splitlines()]
    ok = next(r["accepted"] for r in stopped if r["event"] == "stopped")  # 202s the server sent
    print(f"HTTP, {seconds} s, {connections} connections, wrk -t2 from its own process, loopback")
    print(f"  {'':22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    print(f"  {'GET /healthz (anchor)':22}{anchor['rps']:>10,.0f}{anchor['p50_ms']:>10.2f}{anchor['p99_ms']:>10.2f}"
          f"{anchor['non_2xx']:>10,}")
    print(f"  {'POST /trigger (stored)':22}{load['rps']:>10,.0f}{load['p50_ms']:>10.2f}{load['p99_ms']:>10.2f}"
          f"{load['non_2xx']:>10,}")
    print(f"  ratio to the anchor: {load['rps'] / anchor['rps']:.2f}x")
    print(f"  202 answers sent {ok:,} (wrk counted {load['requests'] - load['non_2xx']:,} before it stopped), "
          f"tasks in the spool {spooled:,}: {'equal' if ok == spooled else 'NOT EQUAL'}"
          f"{', socket errors ' + str(load['socket_errors']) if load['socket_errors'] else ''}")
    print(f"  targets: >= 1,000 req/s {'met' if load['rps'] >= 1000 else 'NOT met'}; "
          f"p99 <= 50 ms {'met' if load['p99_ms'] <= 50 else 'NOT met'}")


def bench_imap(work: Path) -> None:
    if not SHARED.is_dir():
        print(f"IMAP: skipped, {SHARED} is absent (the corpus is not part of the repository)")
        return
    sys.path.insert(0, str(REPO / "tests"))
    from helpers.dovecot import start_dovecot

    files = sorted(SHARED.rglob("*.eml"))
    server = start_dovecot()
    try:
        for n, path in enumerate(files):
            server.deliver(path.read_bytes(), n)
        home = work / "imap-home"
        home.mkdir()
        env = dict(os.environ, ASSIST_HOME=str(home), ASSIST_IMAP_PASSWORD=server.password)
        start = time.perf_counter()
        proc = subprocess.run([ASSIST, "ingest", "imap", "--plain", "--host", "127.0.0.1", "--port",
                               str(server.port), "--user", server.user, "--once", "--to", "inbox"], env=env,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr
        stored = len(os.listdir(home / "spool" / "inbox" / "new"))
    finally:
        server.stop()
    print(f"IMAP: {len(files)} messages from dovecot in {elapsed:.2f} s (process start included): "
          f"{len(files) / elapsed:,.0f} messages/s; {stored} events stored")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/ingest.py needs wrk: apt-get install wrk (scripts/bench does it)")
    work = Path(tempfile.mkdtemp(prefix="assist-bench-ingest-"))
    try:
        bench_http(work, args.seconds, args.connections)
        bench_imap(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
