"""`assist demo`: the whole pipeline on a sample mailbox, all on this machine.

It starts a local IMAP server (dovecot) holding the sample messages and a local SMTP server, writes a
demo home (the checkout's routes plus the servers' addresses), fetches the embedded model, then runs
the real commands: `assist ingest imap --once --to inbox` and `assist work --from inbox
--once`. It ends with a table of what happened to each message. The home, its spool and the mailbox
persist, so a second run finds nothing new and changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

PASSWORD_ENV = "ASSIST_DEMO_IMAP_PASSWORD"
LOGIN, PASSWORD = "demo", "demo-password"  # a throwaway account on a loopback-only server


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def demo_config(base: str, home: Path, imap_port: int, smtp_port: int) -> str:
    return base + f"""

# --- added by assist demo: the local servers and the notes folder ---
[actions.imap]
host = "127.0.0.1"
port = {imap_port}
security = "plain"
username = "{LOGIN}"
password_env = "{PASSWORD_ENV}"
drafts = "Drafts"

[actions.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "{LOGIN}@example.org"

[actions.notes]
vault = "{home / 'notes'}"
"""


def _assist(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(Path(sys.executable).parent / "assist"), *args], env=env, capture_output=True)


def _tasks(home: Path) -> list[dict[str, Any]]:
    """Every task of the demo, wherever it is now (done, held, failed or still queued)."""
    found = []
    for state in ("done", "hold", "failed", "new", "cur"):
        for path in sorted((home / "spool" / "inbox" / state).glob("*.json")):
            task = orjson.loads(path.read_bytes())
            task["_where"] = state
            found.append(task)
    return sorted(found, key=lambda t: t["id"])


def _progress(home: Path, total: int, stop: threading.Event, out: Any) -> None:
    """A progress line: redrawn in place on a terminal, a new line per change otherwise."""
    started, shown, tty = time.monotonic(), -1, sys.stdout.isatty() and out is print
    while not stop.wait(0.5):
        handled = sum(1 for t in _tasks(home) if t["_where"] in ("done", "hold", "failed"))
        line = f"   {handled}/{total} messages handled, {time.monotonic() - started:.0f} s"
        if tty:
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        elif handled != shown:
            out(line)
        shown = handled
    if tty:
        sys.stdout.write("\n")


def table(tasks: list[dict[str, Any]]) -> list[str]:
    rows = [("subject", "route", "conf.", "by", "model", "actions", "time", "state")]
    for task in tasks:
        intent = task.get("intent") or {}
        actions = ", ".join(f"{a['type']}:{a['status']}" for a in task.get("actions", [])) or "-"
        ms = sum(t.get("ms", 0) for t in task.get("trace", []))
        rows.append((str((task.get("data") or {}).get("subject", ""))[:34], intent.get("route", "-"),
                     f"{intent.get('confidence', 0):.2f}", str(intent.get("by", "-")).split(":")[0],
                     (task.get("result") or {}).get("model", "-"), actions[:60], f"{ms / 1000:.1f}s",
                     task["_where"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def run(home: Path, mailbox: Path, out: Any = print) -> int:
    from ..ai.pull import EMBEDDED, pull
    from .servers import start_dovecot, start_smtp

    home.mkdir(parents=True, exist_ok=True)
    out(f"assist demo: home {home}")
    out("1. the embedded model (SmolLM2-135M, llama.cpp) ...")
    pull(home / "models", EMBEDDED, log=lambda m: out("   " + m))
    out("2. local mail servers: dovecot (IMAP) and aiosmtpd (SMTP) on loopback ...")
    try:
        imap = start_dovecot(login=LOGIN, password=PASSWORD, workdir=home / "mailserver")
    except RuntimeError as exc:
        from ..errors import Unavailable

        raise Unavailable(f"the demo's IMAP server did not start: {str(exc).strip().splitlines()[-1]} "
                          "(dovecot runs as nobody when you are root: give --dir a folder it can reach, "
                          "such as one under /tmp)") from None
    smtp = start_smtp(imap)
    try:
        seeded = home / "mailserver" / "seeded"
        if not seeded.exists():
            for n, path in enumerate(sorted(mailbox.glob("*.eml"))):
                imap.deliver(path.read_bytes(), n)
            seeded.write_text("sample mailbox delivered\n")
        base = (repo_root() / "assist.toml").read_text()
        (home / "assist.toml").write_text(demo_config(base, home, imap.port, smtp.port))  # type: ignore[attr-defined]
        env = {**os.environ, "ASSIST_HOME": str(home), PASSWORD_ENV: PASSWORD, "ASSIST_IMAP_PASSWORD": PASSWORD}
        checked = _assist(["config", "check"], env)
        if checked.returncode:
            out(checked.stderr.decode())
            return checked.returncode
        out("3. assist ingest imap --once --to inbox ...")
        ingested = _assist(["ingest", "imap", "--plain", "--host", "127.0.0.1", "--port", str(imap.port), "--user",
                            LOGIN, "--once", "--to", "inbox"], env)
        if ingested.returncode:
            out(ingested.stderr.decode())
            return ingested.returncode
        new = len([t for t in _tasks(home) if t["_where"] == "new"])
        if new == 0:
            out("   nothing new: every message was handled by an earlier run")
        else:
            out(f"   {new} new messages queued")
            out("4. assist work --from inbox --once (classify, prompt, run, act) ...")
            stop = threading.Event()
            ticker = threading.Thread(target=_progress, args=(home, new, stop, out), daemon=True)
            ticker.start()
            worked = _assist(["work", "--from", "inbox", "--once"], env)
            stop.set()
            ticker.join()
            if worked.returncode not in (0, 1):
                out(worked.stderr.decode())
                return worked.returncode
        tasks = _tasks(home)
        out("")
        for line in table(tasks):
            out(line)
        held = [t for t in tasks if t["_where"] == "hold"]
        out("")
        out(f"notes:   {home / 'notes'}  ({', '.join(sorted(p.name for p in (home / 'notes').glob('*.md')))})")
        out(f"mail:    folders Junk and Lists on the demo IMAP server ({home / 'mailserver'})")
        if held:
            unsure = sum(1 for t in held if (t.get("intent") or {}).get("route") == "fallback")
            out(f"waiting: {len(held)} task(s) for you: {len(held) - unsure} to approve (a drafted reply, a flag), "
                f"{unsure} the intent model was not sure enough to file")
            out(f"         see them: ASSIST_HOME={home} assist queue ls --state hold (or assist top, assist serve); "
                "then assist queue approve ID")
        return 0
    finally:
        smtp.stop()  # type: ignore[attr-defined]
        imap.stop()

