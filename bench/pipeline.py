"""The whole pipeline on 500 real emails with the embedded models, as `assist work` and as piped commands.

Run by `scripts/bench pipeline [MODE ...]` (about 15 minutes; modes: work (its default, two batches at
once), piped, work-jN for `assist work -j N`; default work and piped). Needs
../shared/data/email/spamassassin (it stops and says so when that is absent) and Debian's dovecot. For
each mode, a fresh home (the checkout's routes) and a fresh local IMAP server holding the same 500 messages:
  work:   assist ingest imap --once --to inbox; assist work --from inbox --to done --once
  piped:  assist ingest imap --once | assist classify | assist prompt | assist run | assist act
Printed per mode: emails per minute (wall time of the whole run), p50/p95 from ingestion to the last
action of a task, the peak memory (RSS) of the largest process, and the share of the wall time spent
outside the language-model calls (target <= 10%).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "email" / "spamassassin"
ASSIST = str(Path(sys.executable).parent / "assist")
COUNT = 500


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_mode(mode: str, messages: list[Path], root: Path) -> dict:
    from assist.ai.pull import EMBEDDED, pull
    from assist.demo.servers import start_dovecot, start_smtp
    from assist.demo.showcase import LOGIN, PASSWORD, PASSWORD_ENV, demo_config

    home = root / mode
    (home / "models").mkdir(parents=True)
    gguf = pull(REPO / "models", EMBEDDED)
    (home / "models" / gguf.name).symlink_to(gguf)
    imap = start_dovecot(login=LOGIN, password=PASSWORD, workdir=home / "mailserver")
    smtp = start_smtp(imap)
    try:
        for n, path in enumerate(messages):
            imap.deliver(path.read_bytes(), n)
        (home / "assist.toml").write_text(demo_config(home, imap.port, smtp.port))  # type: ignore[attr-defined]
        env = {**os.environ, "ASSIST_HOME": str(home), PASSWORD_ENV: PASSWORD, "ASSIST_IMAP_PASSWORD": PASSWORD}
        ingest = [ASSIST, "ingest", "imap", "--plain", "--host", "127.0.0.1", "--port", str(imap.port), "--user",
                  LOGIN, "--once"]
        started = time.perf_counter()
        if mode.startswith("work"):
            jobs = ["-j", mode[len("work-j"):]] if mode.startswith("work-j") else []
            subprocess.run([*ingest, "--to", "inbox"], env=env, check=True, capture_output=True)
            subprocess.run([ASSIST, "work", "--from", "inbox", "--to", "done", "--once", *jobs], env=env,
                           capture_output=True)
            tasks = [orjson.loads(p.read_bytes()) for folder in ("done/new", "inbox/hold", "inbox/failed")
                     for p in (home / "spool" / folder).glob("*.json")]
        else:
            line = " | ".join([" ".join(ingest)] + [f"{ASSIST} {s}" for s in ("classify", "prompt", "run", "act")])
            out = subprocess.run(["bash", "-o", "pipefail", "-c", line], env=env, capture_output=True)
            tasks = [orjson.loads(x) for x in out.stdout.splitlines() if x.strip()]
            tasks += [orjson.loads(p.read_bytes()) for stage in ("classify", "prompt", "run", "act")
                      for state in ("hold", "failed") for p in (home / "spool" / stage / state).glob("*.json")]
        wall = time.perf_counter() - started
    finally:
        smtp.stop()  # type: ignore[attr-defined]
        imap.stop()
    latencies = sorted(when(t["trace"][-1]["at"]) - when(t["created"]) for t in tasks if t.get("trace"))
    # the model's own time (`model_ms` excludes waiting for the shared in-process model, so the share
    # outside the model stays meaningful with several workers)
    model_s = sum((t.get("result") or {}).get("model_ms", 0) for t in tasks) / 1000
    asked = sum(1 for t in tasks if t.get("result"))
    return {"mode": mode, "tasks": len(tasks), "asked": asked, "wall": wall, "per_min": len(tasks) / wall * 60,
            "p50": statistics.median(latencies), "p95": latencies[int(len(latencies) * 0.95)],
            "outside": max(0.0, wall - model_s) / wall}


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"bench/pipeline.py: {CORPUS} is absent; the 600-message corpus is not part of the repository")
    messages = sorted(p for p in CORPUS.rglob("*.eml"))[:COUNT]
    root = Path(tempfile.mkdtemp(prefix="assist-bench-pipeline-", dir="/tmp"))
    os.chmod(root, 0o755)  # dovecot runs as nobody when we are root
    try:
        results = [run_mode(mode, messages, root) for mode in (sys.argv[1:] or ["work", "piped"])]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{COUNT} SpamAssassin emails through ingest -> classify -> prompt -> run -> act, embedded models, "
          f"{os.cpu_count()} cores")
    print(f"{'mode':6} {'tasks':>5} {'to LLM':>6} {'wall s':>7} {'emails/min':>10} {'p50 s':>7} {'p95 s':>7} "
          f"{'outside model':>13}")
    for r in results:
        print(f"{r['mode']:6} {r['tasks']:5} {r['asked']:6} {r['wall']:7.1f} {r['per_min']:10.0f} {r['p50']:7.1f} "
              f"{r['p95']:7.1f} {r['outside'] * 100:12.1f}%")
    print(f"peak memory of the largest process: {peak:.0f} MiB; target: outside model <= 10%")


if __name__ == "__main__":
    main()
