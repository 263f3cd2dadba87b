"""The first hour: `assist init` makes a home that works with no further editing (against the tests'
dovecot and aiosmtpd), changes nothing when run again, never replaces a user's file silently; and
`assist config check` finds every mistake of a file in one pass."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from assist.demo.servers import SentFolder, start_dovecot
from assist.demo.showcase import mail_workdir
from conftest import ASSIST, free_port, imap_section, on_a_terminal, run

REPLY = ("Message-ID: <r{n}@example.org>\r\nIn-Reply-To: <q{n}@example.org>\r\nFrom: Ann <ann@example.org>\r\n"
         "To: me@example.org\r\nSubject: Re: the budget meeting {n}\r\nDate: Mon, 30 Nov 2026 10:0{n}:00 +0000\r\n"
         "\r\nThursday at 3pm works for me. I will bring the October figures.\r\n")


@pytest.fixture
def servers():
    imap = start_dovecot(password="pw-Zq8xK2-not-in-any-text")
    sent = SentFolder(imap)
    smtp = Controller(sent, hostname="127.0.0.1", port=free_port())
    smtp.start()
    yield imap, smtp.port
    smtp.stop()
    imap.stop()


def init(imap, smtp_port: int, *extra: str, password: str | None = None):
    args = ["init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-security", "plain",
            "--user", imap.user, "--password-stdin", "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port),
            "--smtp-security", "plain", "--preview", "3", *extra]
    return run(args, input=(password or imap.password) + "\n", timeout=300)


def test_init_makes_a_home_that_works_with_no_editing(home, servers, gguf):
    imap, smtp_port = servers
    for n in range(3):
        imap.deliver(REPLY.format(n=n).encode(), n)
    imap.deliver(REPLY.format(n=9).encode(), 9, arrived=time.time() - 400 * 86400)  # last year's
    for folder in ("", "cur", "new", "tmp"):  # and one mail in Sent: whom they wrote to
        (imap.maildir / ".Sent" / folder).mkdir(parents=True, exist_ok=True)
        os.chown(imap.maildir / ".Sent" / folder, imap.uid, imap.gid)
    imap.deliver_to(".Sent", b"From: testuser@example.org\r\nTo: Ann <ann@example.org>\r\nSubject: q\r\n\r\n?\r\n")
    (home / "assist.toml").unlink()  # a new user's home: nothing there yet
    (home / "models").mkdir()
    (home / "models" / gguf.name).symlink_to(gguf)  # the model init would fetch (98 MB: fetched once, by scripts/test)
    r = init(imap, smtp_port)
    assert r.code == 0, r.err
    assert "assist.toml: written" in r.out and "is there" in r.out
    assert "what would happen to the newest 3 message(s)" in r.out and "triage" in r.out
    old = next(line for line in r.out.splitlines() if "the budget meeting 9" in line)  # last year's: not read
    assert "left alone by the first run (over a day old; --backlog reads it)" in old, old
    assert "left alone" not in next(line for line in r.out.splitlines() if "the budget meeting 2" in line)
    assert "the first run reads the 3 message(s) that arrived in the last day; 1 older one(s) are left alone" \
        in r.out, r.out
    assert "correspondents: 1 address(es) you wrote to, from 1 sent message(s)" in r.out
    assert "crontab" in r.out and "ingest imap --once --to inbox" in r.out
    assert "classify correspondents --from-sent" in r.out  # daily: mail sent from the person's own client
    assert "queue tidy >/dev/null; " in r.out and "classify junk" in r.out  # hourly: what the person moved
    # into Junk in their own client
    assert imap.password not in (home / "assist.toml").read_text()  # the password is in the token store
    assert run(["config", "check"]).code == 0
    # the first run, as cron would: no flag, no editing
    assert run(["ingest", "imap", "--once", "--to", "inbox"]).code == 0
    worked = run(["work", "--from", "inbox", "--once"], timeout=600)
    assert worked.code == 0, worked.err
    assert "Traceback" not in worked.err and "Exception ignored" not in worked.err  # llama.cpp closed at exit
    summary = (home / "notes" / "Inbox summary.md").read_text()
    assert all(f"the budget meeting {n}" in summary for n in range(3)) and "the budget meeting 9" not in summary
    # the preview changed nothing: ingestion found all three, once
    assert run(["ingest", "imap", "--once", "--to", "inbox"]).err.strip().endswith(": 0 event(s)")


def test_the_preview_shows_a_hostile_subject_without_its_escape_sequences(home, servers):
    imap, smtp_port = servers
    imap.deliver(b"From: x@example.net\r\nTo: me@example.org\r\nMessage-ID: <esc@example.net>\r\n"
                 b"Subject: =?utf-8?q?Invoice_=1B]0;pwned=07=1B[2J?= due\r\n\r\nPay now.\r\n", 0)
    (home / "assist.toml").unlink()
    r = init(imap, smtp_port, "--no-model", "--preview", "1")
    assert r.code == 0, r.err
    assert "Invoice" in r.out and "due" in r.out
    assert "\x1b" not in r.out and "\x07" not in r.out


def test_an_account_that_does_not_work_is_said_before_anything_is_written(home, servers):
    """A mistyped password, a server whose certificate this machine does not trust, an SMTP port that is
    wrong: init wrote assist.toml, fetched the model, printed the crontab lines and "next: ...", exit 0,
    with the failure on a line among others ("correspondents: ... refused"). The person's cron then failed
    every five minutes, and init run again with the mistake mended kept the file it wrote the first time
    ("kept your assist.toml"). Now init signs in first (nothing sent, nothing marked read) and stops there
    with the reason, writing nothing; with the mistake mended it goes on as on a first run."""
    imap, smtp_port = servers
    (home / "assist.toml").unlink()
    wrong = init(imap, smtp_port, "--no-model", password="not-the-password")
    assert wrong.code == 1 and "login as testuser refused" in wrong.err and "nothing written" in wrong.err, wrong.err
    assert "an app password" in wrong.err and "OAuth2" in wrong.err  # what the big providers want instead
    assert "crontab" not in wrong.out and "next:" not in wrong.out
    assert not (home / "assist.toml").exists() and not (home / "tokens.enc").exists()
    closed = free_port()
    r = run(["init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-security", "plain",
             "--user", imap.user, "--password-stdin", "--smtp-host", "127.0.0.1", "--smtp-port", str(closed),
             "--smtp-security", "plain", "--no-model"], input=imap.password + "\n")
    assert r.code == 75 and f"cannot reach 127.0.0.1:{closed}" in r.err and "nothing written" in r.err, r.err
    assert not (home / "assist.toml").exists()
    mended = init(imap, smtp_port, "--no-model", "--preview", "0")
    assert mended.code == 0 and "assist.toml: written" in mended.out, mended.err
    assert f"signed in to 127.0.0.1:{imap.port} as testuser" in mended.out
    assert f"sending: 127.0.0.1:{smtp_port} takes mail without signing in" in mended.out  # sending nothing
    assert not (home / "assist.toml.new").exists()


def test_on_a_terminal_a_refused_password_is_asked_again(home, servers):
    """A password mistyped at init's question ended init (mend it and run again: every question again).
    On a terminal, the password is asked again, up to three times, before init gives up."""
    imap, _ = servers
    (home / "assist.toml").unlink()
    args = ["init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-security", "plain",
            "--user", imap.user, "--smtp-host", "", "--no-model", "--preview", "0", "--alerts", "none",
            "--spamd", "none"]
    code, shown = on_a_terminal(args, "Password for testuser", ["typo", imap.password])
    assert code == 0 and "login as testuser refused" in shown and "mail: signed in" in shown, shown
    assert shown.count("Password for testuser") == 2 and (home / "assist.toml").exists()
    assert imap.password not in shown  # not echoed
    (home / "assist.toml").unlink()
    code, shown = on_a_terminal(args, "Password for testuser", ["one", "two", "three"])
    assert code == 1 and shown.count("Password for testuser") == 3 and "nothing written" in shown, shown
    assert not (home / "assist.toml").exists()


def test_init_signs_in_with_an_entry_of_the_token_store(home, servers):
    """--token NAME: the password (or an OAuth2 token) is an entry already in the token store; the sign-in
    uses it, and a wrong one is said before anything is written."""
    from assist.auth.store import TokenStore

    imap, _ = servers
    (home / "assist.toml").unlink()
    store = TokenStore(home)
    store.init("file")
    args = ["init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-security", "plain",
            "--user", imap.user, "--token", "box", "--no-model", "--preview", "0"]
    store.set("box", {"kind": "password", "username": imap.user, "password": "stale"})
    r = run(args)
    assert r.code == 1 and "login as testuser refused" in r.err and not (home / "assist.toml").exists(), r.err
    store.set("box", {"kind": "password", "username": imap.user, "password": imap.password})
    r = run(args)
    assert r.code == 0 and "mail: signed in" in r.out and 'token = "box"' in (home / "assist.toml").read_text()


def test_init_says_how_to_trust_a_server_of_ones_own(home):
    """Proton Bridge, a home server: a certificate of its own. init said nothing of it but on its
    correspondents and preview lines, and exit 0; now it stops, saying how to trust it (--cafile), and
    with --cafile the home is made."""
    imap = start_dovecot(tls=True)
    try:
        (home / "assist.toml").unlink()
        base = ["init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.imaps_port), "--user", imap.user,
                "--password-stdin", "--no-model", "--preview", "0"]
        r = run(base, input=imap.password + "\n")
        assert r.code == 69 and "certificate is not trusted" in r.err and "--cafile" in r.err, r.err
        assert not (home / "assist.toml").exists()
        r = run([*base, "--cafile", imap.cafile], input=imap.password + "\n")
        assert r.code == 0 and "signed in" in r.out and (home / "assist.toml").exists(), r.err
    finally:
        imap.stop()


def test_init_again_changes_nothing_and_keeps_a_users_file(home, servers):
    imap, smtp_port = servers
    (home / "assist.toml").unlink()
    assert init(imap, smtp_port, "--no-model", "--preview", "0").code == 0
    again = init(imap, smtp_port, "--no-model", "--preview", "0")
    assert again.code == 0 and "assist.toml: unchanged" in again.out
    mine = (home / "assist.toml").read_text() + "\n# a line of mine\n"
    (home / "assist.toml").write_text(mine)
    kept = init(imap, smtp_port, "--no-model", "--preview", "0")
    assert kept.code == 0 and "kept your" in kept.out
    assert (home / "assist.toml").read_text() == mine and (home / "assist.toml.new").exists()
    forced = init(imap, smtp_port, "--no-model", "--preview", "0", "--force")
    assert forced.code == 0 and "the old one is" in forced.out
    [backup] = home.glob("assist.toml.bak-*")
    assert backup.read_text() == mine


def test_init_without_a_terminal_or_an_account_sets_up_notes_only(home):
    (home / "assist.toml").unlink()
    r = run(["init", "--no-model"], input="")
    assert "assist.toml: written" in r.out
    # said once, clearly: the mail routes need an account
    assert r.code == 78 and r.err.count("actions.imap.host: not set") == 1
    assert 'vault = "notes"' in (home / "assist.toml").read_text()
    assert (home / "tokens.enc").exists() and "token store: made" in r.out  # what assist serve signs with
    # and no line that would fail every five minutes for want of that account
    cron = r.out.split("crontab -e")[1].split("next:")[0]
    assert "work --from inbox --once" in cron and "ingest imap" not in cron and "correspondents" not in cron
    assert "ingest imap" not in r.out.split("next:")[1] and "--imap-host" in r.out.split("next:")[1]


def _spamd_pongs(host: str, port: int) -> bool:
    """Whether something at host:port answers spamd's PING (said here, not by the code under test)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING SPAMC/1.5\r\n\r\n")
            return b"PONG" in sock.recv(100)
    except OSError:
        return False


def test_init_writes_a_spamd_it_was_given_and_the_home_checks_mail_with_it(home, spamd):
    """`assist init --spamd HOST:PORT` with a real spamd: written, said, and the home it made asks that
    spamd about each mail; run again, nothing changes; `--spamd none` leaves it out."""
    from assist.config_file import load
    from assist.ingest.mail import mail_data

    (home / "assist.toml").unlink()
    r = run(["init", "--no-model", "--spamd", spamd], input="")
    assert r.code == 78, r.err  # (no mail account: said, as without --spamd)
    assert f"spamd: {spamd} answers" in r.out and f'[classify]\nspamd = "{spamd}"' in (home / "assist.toml").read_text()
    spam = (Path(__file__).parent / "fixtures" / "email" / "spamassassin" / "spam" / "00001.eml").read_bytes()
    said = mail_data(spam, load(home))["spamd"]
    assert said["score"] > 0 and "error" not in said
    assert "assist.toml: unchanged" in run(["init", "--no-model", "--spamd", spamd], input="").out
    (home / "assist.toml").unlink()
    r = run(["init", "--no-model", "--spamd", "none"], input="")
    assert "spamd: not used" in r.out and "spamd =" not in (home / "assist.toml").read_text()


def test_init_turns_on_desktop_alerts_where_there_is_a_desktop(home, tmp_path, monkeypatch):
    """An urgent mail's reply draft waits for approval, and nothing tells the person unless `[alerts]` is
    on, which a new home left commented out. Where there is a desktop to tell (notify-send, and a session
    bus), init turns desktop alerts on and says so; `--alerts none` leaves them off; on a machine with no
    desktop it says how to be told another way."""
    import socket

    bin_dir, runtime = tmp_path / "bin", tmp_path / "runtime"
    bin_dir.mkdir()
    runtime.mkdir()
    (bin_dir / "notify-send").write_text("#!/bin/sh\n")  # stands in for the desktop's notification service
    (bin_dir / "notify-send").chmod(0o755)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (home / "assist.toml").unlink()
    without = run(["init", "--no-model"], input="")  # no session bus yet: no desktop to tell
    assert "alerts: no desktop here to notify" in without.out and "[alerts]\n" not in _written(home), without.out
    bus = socket.socket(socket.AF_UNIX)
    bus.bind(str(runtime / "bus"))  # the user's session bus
    try:
        (home / "assist.toml").unlink()
        r = run(["init", "--no-model"], input="")
        assert "alerts: desktop notifications" in r.out, r.out
        assert '[alerts]\nnotify = ["desktop"]' in _written(home)
        assert "assist.toml: unchanged" in run(["init", "--no-model"], input="").out
        (home / "assist.toml").unlink()
        off = run(["init", "--no-model", "--alerts", "none"], input="")
        assert "alerts: off (--alerts none)" in off.out and "[alerts]\n" not in _written(home), off.out
    finally:
        bus.close()


def _written(home: Path) -> str:
    """The part of assist.toml init writes (below its marker)."""
    return (home / "assist.toml").read_text().split("`assist init` writes this part")[1]


def test_init_looks_for_a_spamd_where_debian_puts_it_and_refuses_one_elsewhere(home):
    """Without --spamd, init writes the spamd at 127.0.0.1:783 when one answers there, else says how to
    get one; a spamd on another machine (each mail would go there whole) is refused, nothing written."""
    (home / "assist.toml").unlink()
    r = run(["init", "--no-model"], input="")
    there = _spamd_pongs("127.0.0.1", 783)
    written = 'spamd = "127.0.0.1:783"' in (home / "assist.toml").read_text()
    assert written == there and ("spamd: found at 127.0.0.1:783" in r.out) == there
    assert ("spamd: none at 127.0.0.1:783 (optional: apt install spamassassin" in r.out) == (not there)
    (home / "assist.toml").unlink()
    r = run(["init", "--no-model", "--spamd", "192.0.2.7:783"], input="")
    assert r.code == 2 and "192.0.2.7 is not on this machine" in r.err and not (home / "assist.toml").exists()
    r = run(["init", "--no-model", "--spamd", "spamd.example"], input="")
    assert r.code == 2 and "expected HOST:PORT" in r.err


TEN_MISTAKES = """
colour = "blue"                                   # 1 an unknown key

[queue]
lease = "five minutes"                            # 2 not a duration

[[rules]]
name = "broken"
route = "triage"
match = {field = "data.subject", regex = "(unclosed"}   # 3 a pattern that does not compile

[[rules]]
name = "lost"
route = "nowhere"                                 # 4 a route that does not exist
match = {field = "type", equals = "x"}

[routes.triage]
template = "email-triag"                          # 5 a template that does not exist
model = "gpt-9"                                   # 6 a model that does not exist
actions = ["notes.append", "email.mvoe"]          # 7 an action that does not exist

[[routes.triage.fixed]]
type = "notes.append"
args.note = "Inbox"
args.body = "{{ data.subject }}"                  # 8 an argument notes.append does not take (it is text)

[routes.spam]
actions = ["email.move"]                          # 9 needs [actions.imap], which is not there

[actions.shell]
allow = [["ls", {pattern = "(?<=a)b"}]]           # 10 a pattern RE2 cannot run
"""


def test_config_check_finds_ten_mistakes_in_one_pass(home):
    (home / "assist.toml").write_text(TEN_MISTAKES)
    r = run(["config", "check"])
    assert r.code == 78
    lines = r.err.strip().splitlines()
    expected = ["(top level): unknown key(s): 'colour'", "queue.lease:", "rules.0.match.regex:",
                "rules.1.route: no route named 'nowhere'", "routes.triage.template:", "routes.triage.model: no model",
                "routes.triage.actions: no action 'email.mvoe' (did you mean 'email.move'?)",
                "routes.triage.fixed.0.args.(args): unknown argument(s): 'body'",
                "actions.imap.host: not set, and route spam needs it for email.move",
                "actions.shell.allow.0.1.pattern:"]
    missing = [e for e in expected if not any(e in line for line in lines)]
    assert missing == [], r.err
    assert len(lines) >= 10 and "Traceback" not in r.err


def test_a_relative_notes_folder_is_under_the_home_wherever_the_command_runs(home, tmp_path):
    (home / "assist.toml").write_text('[routes.r]\nactions = ["notes.append"]\n[actions.notes]\nvault = "notes"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = b'{"type": "t", "intent": {"route": "r"}, "result": {"parsed": {"actions": [{"type": "notes.append", ' \
          b'"args": {"note": "n", "text": "hello"}}]}}}\n'
    done = subprocess.run([ASSIST, "act"], input=doc, capture_output=True, cwd=elsewhere, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert (home / "notes" / "n.md").exists() and not (elsewhere / "notes").exists()


@pytest.mark.timeout(1800)  # pip install on a busy machine; the work itself is bounded (five model calls)
def test_a_wheel_with_only_the_demo_extra_runs_the_demo_then_init_and_a_first_run(servers, gguf, tmp_path):
    """A user's install is a wheel, not a checkout: the default routes, the prompts and the sample mailbox
    travel in it, and the demo extra is all the demo needs. Built with pip (hatchling), installed with its
    dependencies from the package index (pip's cache makes it quick) into a fresh venv, run from a folder
    with no assist.toml above it and no ASSIST_HOME."""
    repo = Path(__file__).resolve().parent.parent
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(repo)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    [wheel] = wheels.glob("assist-*.whl")
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[demo]"],
                               capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not (site / "textual").exists() and not (site / "starlette").exists()  # only the demo extra

    where = tmp_path / "elsewhere"
    where.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ASSIST_HOME", "PYTHONPATH") and not k.startswith("XDG_")}
    env["HOME"] = str(tmp_path / "user")

    def assist(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "assist"), *args], cwd=where, env=env, input=stdin,
                              capture_output=True, text=True, timeout=600)

    # the demo from the wheel on three of its packaged messages (bounded: three model calls at most)
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "from assist.demo.showcase import sample_mailbox as "
                            "s; print(s()); print(len(list(s().glob('*.eml'))))"], env=env, capture_output=True,
                           text=True)
    packaged, count = found.stdout.split()
    assert packaged.startswith(str(site)) and int(count) == 30, found.stderr
    three = tmp_path / "three"
    three.mkdir()
    for name in ("urgent-1.eml", "ham-00033.eml", "ham-00026.eml"):  # urgent, a reply (a note), a list mail
        shutil.copy(Path(packaged) / name, three / name)
    shutil.copytree(Path(packaged) / "sent", three / "sent")  # whom "you" wrote to: the urgent mail's sender
    demo_home = tmp_path / "demo-home"  # in pytest's 0700 folder: as root, the demo's dovecot mail goes to /tmp
    (demo_home / "models").mkdir(parents=True)
    (demo_home / "models" / gguf.name).symlink_to(gguf)
    try:
        shown = assist("demo", "--dir", str(demo_home), "--mailbox", str(three), "--yes")
        assert shown.returncode == 0, shown.stderr + shown.stdout
        rows = [line for line in shown.stdout.splitlines() if re.search(r"\s(done|hold|failed)$", line)]
        assert "3 new messages queued" in shown.stdout and len(rows) == 3, shown.stdout
        assert "read the headers of 2 sent message(s); 2 correspondent(s) kept" in shown.stdout
        assert not [r for r in rows if r.endswith("failed")], shown.stdout
        assert [r for r in rows if "email.draft:awaiting_approval" in r]  # the urgent one waited for a person
        notes = list((demo_home / "notes").glob("*.md"))
        assert notes and f"notes:   {demo_home / 'notes'}" in shown.stdout  # where the notes are, and them
        assert notes[0].read_text().splitlines()[-1].strip() in shown.stdout
        # --yes approved the draft there and then: it is in the Drafts folder of the demo's IMAP server
        assert "approved: 1 done" in shown.stdout
        # each progress line ends where its work ended (it said "0/1 messages handled" before "approved")
        progress = [line.split(",")[0].strip() for line in shown.stdout.splitlines() if "messages handled" in line]
        assert progress[-1] == "1/1 messages handled" and "3/3 messages handled" in progress, shown.stdout
        drafts = mail_workdir(demo_home) / "home" / "demo" / "Maildir" / ".Drafts"
        assert len([p for p in drafts.rglob("*,S=*") if p.is_file()]) == 1
    finally:
        shutil.rmtree(mail_workdir(demo_home), ignore_errors=True)

    # assist init with flags against the tests' servers: the home is the user data folder, and the first
    # run (as cron would run it) delivers notes with no editing
    imap, smtp_port = servers
    for n in range(2):
        imap.deliver(REPLY.format(n=n).encode(), n)
    user_home = tmp_path / "user" / ".local" / "share" / "assist"
    (user_home / "models").mkdir(parents=True)
    (user_home / "models" / gguf.name).symlink_to(gguf)
    initialised = assist("init", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port), "--imap-security",
                         "plain", "--user", imap.user, "--password-stdin", "--smtp-host", "127.0.0.1", "--smtp-port",
                         str(smtp_port), "--smtp-security", "plain", "--preview", "0", stdin=imap.password + "\n")
    assert initialised.returncode == 0, initialised.stderr
    assert f"home {user_home}" in initialised.stdout
    assert assist("ingest", "imap", "--once", "--to", "inbox").returncode == 0
    worked = assist("work", "--from", "inbox", "--once")
    assert worked.returncode == 0, worked.stderr
    summary = (user_home / "notes" / "Inbox summary.md").read_text()
    assert all(f"the budget meeting {n}" in summary for n in range(2))


def test_init_systemd_writes_units_that_verify_and_only_what_the_home_can_run(home, tmp_path, monkeypatch):
    """--systemd: with no mail account only the worker unit (an IMAP listener would fail forever); the
    unit files pass `systemd-analyze verify`, a home with a space in its path included. Without a user
    manager (a container, CI), init says so and what to run where systemd runs."""
    spaced = tmp_path / "my home"
    spaced.mkdir()
    monkeypatch.setenv("ASSIST_HOME", str(spaced))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    r = run(["init", "--no-model", "--preview", "0", "--systemd"], input="")
    units = tmp_path / "user" / ".config" / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == ["assist-work.service"], r.out
    assert f"wrote {units / 'assist-work.service'}" in r.out
    assert "systemctl --user" in r.out and "Traceback" not in r.err
    text = (units / "assist-work.service").read_text()
    assert f'Environment="ASSIST_HOME={spaced}"' in text and "work --from inbox --follow" in text
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(units / "assist-work.service")],
                                  capture_output=True, text=True)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_another_account_configured_gets_its_fetch_line_and_its_listener(home, tmp_path, monkeypatch):
    """A person who added an account ([actions.imap.accounts.work]) runs `assist init` again: the crontab
    lines fetch it too, after the first account's; with --systemd the listener template is written and its
    instance for that account is the one to enable (assist-imap@work)."""
    imap = start_dovecot()
    try:
        monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)
        (home / "assist.toml").write_text(imap_section(imap) + "[actions.imap.accounts.work]\n"
                                          f'host = "127.0.0.1"\nport = {imap.port}\nsecurity = "plain"\n'
                                          f'username = "{imap.user}"\npassword_env = "TEST_IMAP_PASSWORD"\n')
        r = run(["init", "--no-model", "--preview", "0"], input="")
        fetch = next(line for line in r.out.splitlines() if "*/5 * * * *" in line)
        first, other = fetch.index("ingest imap --once --to inbox;"), fetch.index("ingest imap --account work --once")
        assert first < other < fetch.index("work --from"), fetch
        monkeypatch.setenv("HOME", str(tmp_path / "user"))
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        (tmp_path / "bin").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no systemctl here: what to run where it is is said
        r = run(["init", "--no-model", "--preview", "0", "--systemd"], input="")
        units = tmp_path / "user" / ".config" / "systemd" / "user"
        assert (units / "assist-imap@.service").is_file(), r.out
        assert "assist-imap assist-imap@work" in r.out.replace(".service", ""), r.out
    finally:
        imap.stop()


def test_with_a_mail_account_the_units_listen_and_read_the_sent_folder_daily(tmp_path):
    """With a mail account: the IMAP listener, and daily timers for whom the person wrote to (mail sent
    from their own client) and what they moved into Junk; every unit passes `systemd-analyze verify`."""
    from assist.init_home import systemd_units

    units = systemd_units(tmp_path / "my home", ASSIST, imap=True)
    assert sorted(units) == ["assist-correspondents.service", "assist-correspondents.timer",
                             "assist-imap.service", "assist-imap@.service", "assist-junk.service",
                             "assist-junk.timer", "assist-tidy.service", "assist-tidy.timer", "assist-work.service"]
    assert "ingest imap --account %i --idle" in units["assist-imap@.service"]  # assist-imap@work: the account
    assert "queue tidy" in units["assist-tidy.service"] and "OnCalendar=hourly" in units["assist-tidy.timer"]
    assert "classify correspondents --from-sent" in units["assist-correspondents.service"]
    assert "classify junk" in units["assist-junk.service"] and "OnCalendar=hourly" in units["assist-junk.timer"]
    from assist.init_home import cron_lines

    assert len(cron_lines(tmp_path, ASSIST, imap=True)) == 3 and len(cron_lines(tmp_path, ASSIST, imap=False)) == 1
    assert "queue tidy" in cron_lines(tmp_path, ASSIST, imap=True)[1]
    assert "OnCalendar=daily" in units["assist-correspondents.timer"]
    for name, text in units.items():
        (tmp_path / name.replace("@.", "@work.")).write_text(text)  # a template is verified as an instance
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify",
                                   *(str(tmp_path / n.replace("@.", "@work.")) for n in units)],
                                  capture_output=True, text=True)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def _work_servers():
    """A second mail account of the person's: its own dovecot and SMTP server (filing into its Sent)."""
    work = start_dovecot(login="worker", password="pw-work-3Rt9-not-in-any-text")
    smtp = Controller(SentFolder(work), hostname="127.0.0.1", port=free_port())
    smtp.start()
    return work, smtp


def add_account(work, smtp_port: int | None, *extra: str, name: str = "work", password: str | None = None):
    sending = ["--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--smtp-security", "plain"]
    sending = sending if smtp_port else []
    args = ["init", "--account", name, "--imap-host", "127.0.0.1", "--imap-port", str(work.port),
            "--imap-security", "plain", "--user", work.user, "--password-stdin", *sending, "--no-model", *extra]
    return run(args, input=(password or work.password) + "\n", timeout=300)


def test_init_adds_another_account_that_works_with_no_editing(home, servers, tmp_path):
    """A person's second mail account was a section of assist.toml to write by hand, its password a token
    to set by hand, nothing checked until cron met the mistake. `assist init --account work` does for it
    what init does for the first: signs in first, keeps its password in the token store, adds its
    sections to assist.toml (the rest left as it is), reads whom the person wrote to from its Sent, shows
    what would happen to its newest mail, and prints the crontab lines that fetch it. Run again, or the
    first account's init run again, nothing changes."""
    import tomllib

    from assist.auth.store import TokenStore

    imap, smtp_port = servers
    (home / "assist.toml").unlink()
    assert init(imap, smtp_port, "--no-model", "--preview", "0").code == 0
    mine = (home / "assist.toml").read_text()
    dotfiles = tmp_path / "dotfiles"  # where the person keeps it, linked into the home
    dotfiles.mkdir()
    (home / "assist.toml").rename(dotfiles / "assist.toml")
    (home / "assist.toml").symlink_to(dotfiles / "assist.toml")
    work, smtp = _work_servers()
    try:
        work.deliver(b"Message-ID: <q1@corp.example>\r\nFrom: Boss <boss@corp.example>\r\nTo: worker@corp.example"
                     b"\r\nSubject: Budget review\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nCan we meet?\r\n", 1)
        work.deliver_to(".Sent", b"From: worker@corp.example\r\nTo: Dana <dana@corp.example>\r\nSubject: q\r\n\r\n")
        r = add_account(work, smtp.port, "--from", "me@corp.example", "--preview", "3")
        assert r.code == 0, r.err
        assert f"mail: signed in to 127.0.0.1:{work.port} as worker" in r.out
        assert "assist.toml: added [actions.imap.accounts.work] and [actions.smtp.accounts.work]" in r.out, r.out
        text = (home / "assist.toml").read_text()
        assert text.startswith(mine) and work.password not in text  # the rest as it was; no password in it
        assert (home / "assist.toml").is_symlink() and (dotfiles / "assist.toml").read_text() == text
        settings = tomllib.loads(text)["actions"]
        assert settings["imap"]["accounts"]["work"]["port"] == work.port
        assert settings["imap"]["accounts"]["work"]["token"] == "mail-work"
        assert settings["imap"]["accounts"]["work"]["from"] == "me@corp.example"  # its drafts' From
        assert settings["smtp"]["accounts"]["work"]["from"] == "me@corp.example"
        assert TokenStore(home).get("mail-work")["password"] == work.password
        assert TokenStore(home).get("mail")["password"] == imap.password  # the first account's, untouched
        assert "correspondents: 1 address(es) you wrote to" in r.out, r.out
        assert "what would happen to the newest 1 message(s)" in r.out and "Budget review" in r.out, r.out
        fetch = next(line for line in r.out.splitlines() if "*/5 * * * *" in line)
        assert "ingest imap --once --to inbox;" in fetch and "ingest imap --account work --once" in fetch
        assert "next: assist ingest imap --account work --once" in r.out

        read = run(["ingest", "imap", "--account", "work", "--once"])
        assert read.code == 0 and "Budget review" in read.out, read.err
        assert f"worker@127.0.0.1:{work.port}" in read.out  # noted as read from that account

        again = add_account(work, smtp.port, "--from", "me@corp.example", "--preview", "0")
        assert again.code == 0 and "assist.toml: unchanged" in again.out, again.out + again.err
        first = init(imap, smtp_port, "--no-model", "--preview", "0")
        assert first.code == 0 and "assist.toml: unchanged" in first.out, first.out + first.err
        assert (home / "assist.toml").read_text() == text and not (home / "assist.toml.new").exists()
    finally:
        smtp.stop()
        work.stop()


def test_an_account_init_cannot_add_is_said_and_nothing_is_written(home, servers):
    """Refused before anything is written: a wrong password (nor is a token kept), a name that is not a
    plain word (it becomes a TOML table name, a crontab argument and a systemd instance), a name already
    given to other settings, the account init set up first under another name, and --account before there
    is a first account."""
    from assist.auth.store import TokenStore

    imap, smtp_port = servers
    work, smtp = _work_servers()
    try:
        (home / "assist.toml").unlink()
        first = add_account(work, None, "--preview", "0")
        assert first.code == 78 and "no first account yet" in first.err and "assist init --imap-host" in first.err
        assert not (home / "assist.toml").exists()
        assert init(imap, smtp_port, "--no-model", "--preview", "0").code == 0
        before = (home / "assist.toml").read_bytes()

        wrong = add_account(work, smtp.port, "--preview", "0", password="not-the-password")
        assert wrong.code == 1 and "login as worker refused" in wrong.err and "nothing written" in wrong.err
        assert (home / "assist.toml").read_bytes() == before
        assert "mail-work" not in [entry["name"] for entry in TokenStore(home).names()]

        for name in ("work]\n[routes.evil", "a.b", "my work", "", "x" * 41, "-x"):
            bad = add_account(work, smtp.port, "--preview", "0", name=name)
            assert bad.code == 2 and "--account" in bad.err and "letters, digits" in bad.err, (name, bad.err)
        same = run(["init", "--account", "again", "--imap-host", "127.0.0.1", "--imap-port", str(imap.port),
                    "--imap-security", "plain", "--user", imap.user, "--password-stdin", "--no-model"],
                   input=imap.password + "\n")
        assert same.code == 2 and "already in assist.toml as [actions.imap]" in same.err, same.err
        assert (home / "assist.toml").read_bytes() == before

        home_wide = add_account(work, None, "--preview", "0", "--spamd", "none", "--force")
        assert home_wide.code == 2 and "--spamd, --force: of the whole home" in home_wide.err, home_wide.err
        assert add_account(work, None, "--preview", "0").code == 0
        added = (home / "assist.toml").read_bytes()
        other = add_account(work, None, "--preview", "0", "--imap-port", str(imap.port))
        assert other.code == 2 and "an account named 'work' is already in" in other.err, other.err
        assert (home / "assist.toml").read_bytes() == added
    finally:
        smtp.stop()
        work.stop()


def test_init_again_keeps_the_other_accounts_as_they_were_written(home):
    """The first account's init, run again (or with --force), writes its part of assist.toml anew: the
    other accounts' sections go with it, whatever their values (a name to quote, a list, a newline that
    must not end its line), and read back the same."""
    import tomllib

    from assist.init_home import MailAccount, Plan, accounts, add_account, other_accounts, template

    first = Plan(mail=MailAccount("imap.example.org", "me@example.org"))
    (home / "assist.toml").write_text(template() + "\n" + accounts(first))
    text, what = add_account(home, "work", MailAccount("imap.corp.example", "me@corp.example", smtp_host="smtp.corp"))
    assert what == "added [actions.imap.accounts.work] and [actions.smtp.accounts.work]" and text is not None
    hand = ('[actions.imap.accounts."my box"]\nhost = "imap.box.example"\nusername = "a\\nb"\n'
            'folders = ["INBOX", "Fil\\"es"]\nport = 993\nverify = false\n')
    (home / "assist.toml").write_text(text + "\n" + hand)
    again = template() + "\n" + accounts(first, other_accounts(home))
    assert again.startswith(text)  # as --account wrote them: init run again changes nothing of them
    assert tomllib.loads(again)["actions"] == tomllib.loads((home / "assist.toml").read_text())["actions"]
