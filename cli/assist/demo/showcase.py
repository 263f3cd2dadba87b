"""`assist demo`: the whole pipeline on a sample mailbox, all on this machine.

It starts a local IMAP server (dovecot) holding the sample messages and a local SMTP server, writes a
demo home (the default routes of `assist init` plus the servers' addresses), fetches the embedded model,
then runs the real commands: `assist ingest imap --once --to inbox` and `assist work --from inbox
--once`. It ends with a table of what happened to each message, the notes it wrote, and what waits for
you; on a terminal it offers to approve the drafted replies there and then (or `--keep` keeps the
servers up for `assist top`, `assist serve`, `assist queue approve`). The home, its spool and the mailbox
persist, so a second run finds nothing new and changes nothing. The servers stop on every way out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from ..ai.pull import Packaged

PASSWORD_ENV = "ASSIST_DEMO_IMAP_PASSWORD"
LOGIN, PASSWORD = "demo", "demo-password"  # a throwaway account on a loopback-only server


def say(line: str) -> None:
    """The demo's output: a line at a time, flushed, also when piped (to tee, to a test)."""
    print(line, flush=True)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def default_home() -> Path:
    """demo/home in a checkout; beside the user data folder (~/.local/share/assist-demo) when installed."""
    root = repo_root()
    if (root / "pyproject.toml").is_file() and (root / "demo").is_dir():
        return root / "demo" / "home"
    from ..home import default_home as user_home

    return user_home().with_name("assist-demo")


def sample_mailbox() -> Path:
    """The 30 sample messages: package data when installed, demo/mailbox in a checkout."""
    packaged = Path(__file__).parent / "mailbox"
    return packaged if packaged.is_dir() else repo_root() / "demo" / "mailbox"


def demo_config(home: Path, imap_port: int, smtp_port: int, model: Packaged | None = None) -> str:
    """The default routes (assist init's template) with the demo's local servers and notes folder, and
    the catalog model asked for (else the embedded model's own choice: the best one pulled)."""
    from ..init_home import MailAccount, Plan, accounts, template

    mail = MailAccount("127.0.0.1", LOGIN, imap_port, "plain", "127.0.0.1", smtp_port, "plain",
                       f"{LOGIN}@example.org", password_env=PASSWORD_ENV)
    pinned = (f'\n[models.embedded]\nbackend = "llamacpp"\npath = "{model.name}"\ntags = ["local", "fast"]\n'
              if model else "")
    return template() + "\n" + accounts(Plan(notes=str(home / "notes"), mail=mail)) + pinned


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


def _progress(home: Path, ids: set[str], stop: threading.Event, out: Any) -> None:
    """A progress line over the messages of this run: redrawn in place on a terminal, else a line a change."""
    started, shown, tty = time.monotonic(), -1, sys.stdout.isatty() and out is say
    finished = False
    while not finished:  # once more after the work ends: the line shows where it ended, not a moment before
        finished = stop.wait(0.5)
        handled = sum(1 for t in _tasks(home) if t["id"] in ids and t["_where"] in ("done", "hold", "failed"))
        line = f"   {handled}/{len(ids)} messages handled, {time.monotonic() - started:.0f} s"
        if tty:
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        elif handled != shown:
            out(line)
        shown = handled
    if tty:
        sys.stdout.write("\n")


def mail_workdir(home: Path) -> Path:
    """Where the demo's dovecot keeps its mail: in the home, unless dovecot (which runs as nobody when
    started by root) could not reach it there; then in the temporary folder, named after the home."""
    workdir = home / "mailserver"
    if os.getuid() != 0 or all(os.stat(p).st_mode & 0o001 for p in [*workdir.parents][:-1] if p.exists()):
        return workdir
    import hashlib
    import tempfile

    return Path(tempfile.gettempdir()) / f"assist-demo-mail-{hashlib.sha256(str(home).encode()).hexdigest()[:10]}"


def table(tasks: list[dict[str, Any]]) -> list[str]:
    from ..printable import printable

    rows = [("subject", "route", "conf.", "by", "model", "actions", "time", "state")]
    for task in tasks:
        intent = task.get("intent") or {}
        actions = ", ".join(f"{a['type']}:{a['status']}" for a in task.get("actions", [])) or "-"
        ms = sum(t.get("ms", 0) for t in task.get("trace", []))
        rows.append((printable(str((task.get("data") or {}).get("subject", "")))[:34], intent.get("route", "-"),
                     f"{intent.get('confidence', 0):.2f}", str(intent.get("by", "-")).split(":")[0],
                     (task.get("result") or {}).get("model", "-"), actions[:60], f"{ms / 1000:.1f}s",
                     task["_where"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _plans(held: list[dict[str, Any]]) -> list[str]:
    """What the held tasks would run, every argument as it will run: what a person approving them reads."""
    from ..queue.admin import awaiting, plan_text

    lines = []
    for task in held:
        lines.append(f"   {task['id']} would run:")
        lines += ["     " + line.replace("\n", "\n     ") for line in plan_text(awaiting(task), task["id"])]
    return lines


def run(home: Path, mailbox: Path, out: Any = say, keep: bool = False,
        ask: Callable[[str, list[str]], bool] | None = None, model: Packaged | None = None) -> int:
    """Run the demo in `home`; `ask` (on a terminal) is offered the held drafts to approve, with what they
    would run."""
    from ..ai.pull import DEFAULT, best_pulled, pull
    from .servers import start_dovecot, start_smtp

    home.mkdir(parents=True, exist_ok=True)
    out(f"assist demo: home {home}")
    chosen = model
    model = model or best_pulled(home / "models") or DEFAULT  # one the home has, else the capable default
    out(f"1. the embedded model ({model.name}, llama.cpp) ...")
    pull(home / "models", model, log=lambda m: out("   " + m))
    out("2. local mail servers: dovecot (IMAP) and aiosmtpd (SMTP) on loopback ...")
    stopping = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill stops the servers too (the finally below)
    servers: list[Any] = []
    try:
        try:
            imap = start_dovecot(login=LOGIN, password=PASSWORD, workdir=mail_workdir(home))
        except RuntimeError as exc:
            from ..errors import Unavailable

            raise Unavailable(f"the demo's IMAP server did not start: {str(exc).strip().splitlines()[-1]}") from None
        servers.append(imap)
        smtp = start_smtp(imap)
        servers.append(smtp)
        return _pipeline(home, mailbox, imap, smtp, out, keep, ask, chosen)
    finally:
        for server in reversed(servers):
            server.stop()
        signal.signal(signal.SIGTERM, stopping)


def _pipeline(home: Path, mailbox: Path, imap: Any, smtp: Any, out: Any, keep: bool,
              ask: Callable[[str, list[str]], bool] | None, model: Packaged | None) -> int:
    seeded = imap.workdir / "seeded"  # with the mail: a mail folder wiped (a reboot's /tmp) is seeded again
    if not seeded.exists():
        for n, path in enumerate(sorted(mailbox.glob("*.eml"))):
            imap.deliver(path.read_bytes(), n)
        for path in sorted(mailbox.glob("sent/*.eml")):  # what "you" wrote before: whom a reply may go to
            imap.deliver_to(".Sent", path.read_bytes())
        seeded.write_text(f"sample mailbox {mailbox} delivered\n")
    (home / "assist.toml").write_text(demo_config(home, imap.port, smtp.port, model))
    env = {**os.environ, "ASSIST_HOME": str(home), PASSWORD_ENV: PASSWORD}
    checked = _assist(["config", "check"], env)
    if checked.returncode:
        out(checked.stderr.decode())
        return checked.returncode
    if not (home / "tokens.enc").exists():
        _assist(["token", "init"], env)  # what `assist serve` signs its sessions with
    out("3. assist classify correspondents --from-sent (whom you wrote to: a reply is drafted only to them) ...")
    people = _assist(["classify", "correspondents", "--from-sent"], env)
    if people.returncode:
        out(people.stderr.decode())
        return people.returncode
    out("   " + people.stdout.decode().strip())
    out("4. assist ingest imap --once --to inbox ...")
    before = {t["id"] for t in _tasks(home)}
    ingested = _assist(["ingest", "imap", "--once", "--to", "inbox"], env)
    if ingested.returncode:
        out(ingested.stderr.decode())
        return ingested.returncode
    found = re.search(rb": (\d+) event\(s\)", ingested.stderr)
    count = int(found.group(1)) if found else 0
    new = {t["id"] for t in _tasks(home)} - before
    if not count:
        out("   nothing new: every message was handled by an earlier run")
    else:
        out(f"   {count} new message{'s' if count != 1 else ''} queued")
        out("5. assist work --from inbox --once (classify, prompt, run, act) ...")
        code = _work(home, env, new, out)
        if code not in (0, 1):
            return code
    tasks = _tasks(home)
    out("")
    for line in table(tasks):
        out(line)
    _show_notes(home, out)
    held = [t for t in tasks if t["_where"] == "hold"]
    drafts = [t for t in held if (t.get("intent") or {}).get("route") != "fallback"]
    unsure = len(held) - len(drafts)
    out(f"mail:    folders Junk and Lists on the demo's IMAP server ({imap.workdir})")
    if held:
        out(f"waiting: {len(held)} task(s) for you: {len(drafts)} to approve (a drafted reply, a flag), {unsure} the "
            "intent model was not sure enough to file")
    if drafts and ask is not None and ask(f"approve the {len(drafts)} drafted repl{'ies' if len(drafts) > 1 else 'y'} "
                                          "and flags now?", _plans(drafts)):
        for task in drafts:  # the person said yes to what they were shown: approve asks no more
            _assist(["queue", "approve", "--yes", task["id"]], env)
        _work(home, env, {t["id"] for t in drafts}, out)
        done = [t for t in _tasks(home) if t["id"] in {d["id"] for d in drafts}]
        out(f"   approved: {sum(1 for t in done if t['_where'] == 'done')} done; the drafts are in the Drafts "
            "folder of the demo's IMAP server")
    _next_steps(home, imap, held, out, keep)
    return 0


def _work(home: Path, env: dict[str, str], ids: set[str], out: Any) -> int:
    stop = threading.Event()
    ticker = threading.Thread(target=_progress, args=(home, ids, stop, out), daemon=True)
    ticker.start()
    worked = _assist(["work", "--from", "inbox", "--once"], env)
    stop.set()
    ticker.join()
    if worked.returncode not in (0, 1):
        out(worked.stderr.decode())
    return worked.returncode


def _show_notes(home: Path, out: Any, lines: int = 12) -> None:
    notes = sorted((home / "notes").glob("*.md"))
    out("")
    out(f"notes:   {home / 'notes'}  ({', '.join(p.name for p in notes) or 'none yet'})")
    for note in notes[:2]:
        out(f"   --- {note.name} (the last {lines} lines) ---")
        for line in note.read_text().splitlines()[-lines:]:
            out(f"   {line}"[:160])
    out("")


def _next_steps(home: Path, imap: Any, held: list[dict[str, Any]], out: Any, keep: bool) -> None:
    import shlex

    assist = shlex.quote(str(Path(sys.executable).parent / "assist"))
    if not keep:
        if held:
            out(f"next:    {assist} demo --dir {shlex.quote(str(home))} --keep     keeps the mail servers up to "
                "approve with `assist queue approve`, `assist top` or `assist serve`")
        return
    # Ctrl-C ends the wait even where SIGINT came ignored (a job started in the background by a script)
    interrupting = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        out("the demo's servers stay up until Ctrl-C. Meanwhile, in another terminal:")
        # the demo's home reads its mail password from the environment (demo_config): another terminal has none
        out(f"   export ASSIST_HOME={shlex.quote(str(home))} {PASSWORD_ENV}={PASSWORD}")
        out(f"   {assist} queue ls --state hold        what waits for you")
        out(f"   {assist} queue approve ID && {assist} work --from inbox --once")
        out(f"   {assist} top    or    {assist} serve  (the web dashboard)")
        out(f"   IMAP: 127.0.0.1:{imap.port}, user {LOGIN}, password {PASSWORD} (a throwaway account, loopback only)")
        signal.pause() if hasattr(signal, "pause") else time.sleep(1 << 30)
    except KeyboardInterrupt:
        out("stopping the servers")
    finally:
        signal.signal(signal.SIGINT, interrupting)


