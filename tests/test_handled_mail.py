"""Held mail the person handled in their mail client meanwhile (`assist queue tidy`), against a real
IMAP server (dovecot) and the real pipeline."""

from __future__ import annotations

import imaplib

import orjson

from assist.demo.servers import start_dovecot
from conftest import UNSURE_ROUTES, imap_section, run

ANSWER = """
[[rules]]
name = "urgent"
route = "answer"
match = {field = "data.subject", regex = "^URGENT"}

[routes.answer]
types = ["email.*"]
actions = ["email.draft"]
confirm = ["email.draft"]

[[routes.answer.fixed]]
type = "email.draft"
args.to = "{{ data.from }}"
args.subject = "Re: {{ data.subject }}"
args.body = "On it."
args.in_reply_to = "{{ data.message_id }}"

[routes.receipts]
types = ["email.*"]
actions = ["email.move"]

[[routes.receipts.fixed]]
type = "email.move"
args.message_id = "{{ data.message_id }}"
args.to = "Receipts"

[classify]
spam_route = ""
"""


def mail(n: int, subject: str) -> bytes:
    return (f"Message-ID: <h{n}@example.org>\r\nFrom: Ann <ann@example.org>\r\nSubject: {subject}\r\n\r\n"
            f"Mail number {n}.\r\n").encode()


def held(home) -> dict[str, dict]:
    """The held tasks, by subject."""
    found = [orjson.loads(p.read_bytes()) for p in (home / "spool" / "inbox" / "hold").glob("*.json")]
    return {t["data"]["subject"]: t for t in found}


def test_held_mail_the_person_handled_in_their_mail_client_is_no_longer_asked_about(home, monkeypatch):
    """The person reads their mail on their phone while assist's questions wait: they delete one held
    mail, file another in a folder a route files in, answer the urgent one whose reply waits for approval.
    Each stayed a question in `assist top` for ever. `assist queue tidy` looks at each held mail on the
    server: one moved into a route's folder is approved on that route (the person's correction, learned
    as if given in top); one moved elsewhere or deleted, or answered (a reply in Sent), is closed with
    why, learning nothing; the others still wait. --dry-run says what it would do and does nothing."""
    imap = start_dovecot()
    try:
        monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)
        (home / "assist.toml").write_text(UNSURE_ROUTES + ANSWER + imap_section(imap, sent="Sent"))
        for n, subject in enumerate(["Your receipt", "Lunch?", "URGENT: the contract", "Photos", "Minutes"]):
            imap.deliver(mail(n, subject), n)
        imap.deliver(mail(6, "URGENT: your order has shipped"), 6)  # the urgent rule's, held for its draft
        odd = b"Message-ID: <h5@example.org> and then some\r\nSubject: Odd one\r\n\r\nMail number 5.\r\n"
        imap.deliver(odd, 5)  # a Message-ID no search may carry: looked at by its UID only
        imap.deliver(b"From: Ann <ann@example.org>\r\nSubject: No id\r\n\r\nMail number 7.\r\n", 7)  # none at all
        assert run(["ingest", "imap", "--once", "--to", "inbox"]).code == 0
        assert run(["work", "--from", "inbox", "--once"]).code == 0
        waiting = held(home)
        assert sorted(waiting) == ["Lunch?", "Minutes", "No id", "Odd one", "Photos", "URGENT: the contract",
                                   "URGENT: your order has shipped", "Your receipt"]
        assert waiting["URGENT: the contract"]["intent"]["route"] == "answer"  # its draft waits

        conn = imaplib.IMAP4("127.0.0.1", imap.port)
        conn.login(imap.user, imap.password)
        conn.select("INBOX")
        uids = {}
        for n in range(7):
            _, found = conn.uid("SEARCH", None, "HEADER", "Message-ID", f'"<h{n}@example.org>"')
            uids[n] = found[0]
        conn.create('"Receipts"')
        conn.create('"Sent"')
        conn.create('"Archive"')
        conn.uid("MOVE", uids[0], '"Receipts"')  # filed where the receipts route files
        _, found = conn.uid("SEARCH", None, "SUBJECT", '"Odd one"')
        conn.uid("MOVE", found[0], '"Receipts"')  # where no Message-ID search can confirm it
        conn.uid("STORE", uids[1], "+FLAGS.SILENT", "(\\Deleted)")  # deleted
        _, found = conn.uid("SEARCH", None, "SUBJECT", '"No id"')
        conn.uid("STORE", found[0], "+FLAGS.SILENT", "(\\Deleted)")  # deleted too
        conn.expunge()
        conn.uid("MOVE", uids[4], '"Archive"')  # archived: no route files there
        conn.uid("MOVE", uids[6], '"Receipts"')  # not urgent: a receipt, the person says
        conn.logout()
        imap.deliver_to(".Sent", b"Message-ID: <reply@phone.example>\r\nIn-Reply-To: <h2@example.org>\r\n"
                                 b"Subject: Re: URGENT: the contract\r\n\r\nSigned, sending it now.\r\n")

        dry = run(["queue", "tidy", "--dry-run"])
        assert dry.code == 0, dry.err
        assert len(held(home)) == 8  # nothing done
        said = run(["queue", "tidy"])
        assert said.code == 0, said.err
        assert dry.out.replace("would be ", "").splitlines()[:-1] == said.out.splitlines()[:-1]
        lines = said.out.splitlines()
        assert any("Your receipt" in line and "approved on route receipts" in line and "Receipts" in line
                   for line in lines), lines
        assert any("Lunch?" in line and "closed" in line and "moved or deleted" in line for line in lines), lines
        assert any("Minutes" in line and "closed" in line for line in lines), lines
        assert any("Odd one" in line and "closed" in line for line in lines), lines
        assert any("No id" in line and "closed" in line and "moved or deleted" in line for line in lines), lines
        assert any("your order has shipped" in line and "closed" in line and "into Receipts" in line
                   and "learned as receipts" in line for line in lines), lines
        assert any("URGENT" in line and "closed" in line and "<reply@phone.example>" in line for line in lines), lines
        assert "1 still wait" in lines[-1], lines
        assert sorted(held(home)) == ["Photos"]
        assert run(["queue", "tidy"]).out.splitlines()[-1].startswith("0 held task(s) handled")

        assert run(["work", "--from", "inbox", "--once"]).code == 0  # the approved one goes on: filed already
        done = {t["data"]["subject"]: t for t in
                (orjson.loads(p.read_bytes()) for p in (home / "spool" / "inbox" / "done").glob("*.json"))}
        receipt = done["Your receipt"]
        assert receipt["intent"]["route"] == "receipts" and receipt["actions"][0]["result"].get("already")
        history = run(["classify", "history", "--json"]).json()  # learned as the person's corrections
        assert history[-1]["by_route"] == {"receipts": 2} and receipt["intent"]["learned"] is True, history
        closed = [orjson.loads(p.read_bytes()) for p in (home / "spool" / "inbox" / "cancelled").glob("*.json")]
        assert len(closed) == 6 and all("handled in your mail client" in t["meta"]["last_error"] for t in closed)
    finally:
        imap.stop()


def test_tidy_without_a_mail_account_says_so(home):
    (home / "assist.toml").write_text(UNSURE_ROUTES)
    r = run(["queue", "tidy"])
    assert r.code == 2 and "[actions.imap]" in r.err and "Traceback" not in r.err, r.err


def test_held_mail_of_a_second_account_is_looked_at_in_that_account(home, monkeypatch):
    """A person with two accounts ([actions.imap] and [actions.imap.accounts.work]) answers assist's
    questions about the work account's mail in their mail client: they file one held mail in Receipts,
    delete another. `assist queue tidy` looked for both in the main account, where neither is: the first
    stayed a question, and the second too. Each held mail is now looked at in the account it was read
    from: the filed one approved on its route, the deleted one closed, the one left alone still waits.
    Before, that one was closed as "moved or deleted" when the two servers' inboxes had the same
    UIDVALIDITY (its UID was not in the main account's inbox). The main account's held mail, untouched,
    still waits; and a mail read from an account not configured is left waiting (nothing can tell)."""
    main, work, stranger = start_dovecot(), start_dovecot(login="worker"), start_dovecot(login="someone")
    try:
        monkeypatch.setenv("TEST_IMAP_PASSWORD", main.password)
        monkeypatch.setenv("TEST_IMAP_PASSWORD_2", work.password)
        (home / "assist.toml").write_text(
            UNSURE_ROUTES + ANSWER + imap_section(main, sent="Sent") + "[actions.imap.accounts.work]\n"
            f'host = "127.0.0.1"\nport = {work.port}\nsecurity = "plain"\nusername = "{work.user}"\n'
            'password_env = "TEST_IMAP_PASSWORD_2"\n')
        main.deliver(mail(0, "Photos"), 0)
        for n, subject in [(1, "Your receipt"), (2, "Lunch?"), (4, "Agenda")]:
            work.deliver(mail(n, subject), n)
        stranger.deliver(mail(3, "Elsewhere"), 3)
        assert run(["ingest", "imap", "--once", "--to", "inbox"]).code == 0
        assert run(["ingest", "imap", "--account", "work", "--once", "--to", "inbox"]).code == 0
        monkeypatch.setenv("ASSIST_IMAP_PASSWORD", stranger.password)
        assert run(["ingest", "imap", "--host", "127.0.0.1", "--port", str(stranger.port), "--plain",
                    "--user", stranger.user, "--once", "--to", "inbox"]).code == 0
        assert run(["work", "--from", "inbox", "--once"]).code == 0
        assert sorted(held(home)) == ["Agenda", "Elsewhere", "Lunch?", "Photos", "Your receipt"]

        conn = imaplib.IMAP4("127.0.0.1", work.port)
        conn.login(work.user, work.password)
        conn.select("INBOX")
        conn.create('"Receipts"')
        _, found = conn.uid("SEARCH", None, "SUBJECT", '"Your receipt"')
        conn.uid("MOVE", found[0], '"Receipts"')
        _, found = conn.uid("SEARCH", None, "SUBJECT", '"Lunch?"')
        conn.uid("STORE", found[0], "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()
        conn.logout()
        conn = imaplib.IMAP4("127.0.0.1", stranger.port)
        conn.login(stranger.user, stranger.password)
        conn.select("INBOX")
        conn.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")  # gone there: still nothing the config can see
        conn.expunge()
        conn.logout()

        said = run(["queue", "tidy"])
        assert said.code == 0, said.err
        lines = said.out.splitlines()
        assert any("Your receipt" in line and "approved on route receipts" in line for line in lines), lines
        assert any("Lunch?" in line and "closed" in line and "moved or deleted" in line for line in lines), lines
        assert "3 still wait" in lines[-1], lines
        assert sorted(held(home)) == ["Agenda", "Elsewhere", "Photos"]

        # the third account configured now, and out of reach: the others' mail is looked at all the same
        with (home / "assist.toml").open("a") as config:
            config.write(f'[actions.imap.accounts.old]\nhost = "127.0.0.1"\nport = {stranger.port}\n'
                         f'security = "plain"\nusername = "{stranger.user}"\npassword_env = "ASSIST_IMAP_PASSWORD"\n')
        stranger.stop()
        conn = imaplib.IMAP4("127.0.0.1", work.port)
        conn.login(work.user, work.password)
        conn.select("INBOX")
        conn.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()
        conn.logout()
        said = run(["queue", "tidy"])
        assert said.code == 69 and f"imap 127.0.0.1:{stranger.port}: cannot connect" in said.err, said.err
        assert any("Agenda" in line and "closed" in line for line in said.out.splitlines()), said.out
        assert sorted(held(home)) == ["Elsewhere", "Photos"]
    finally:
        for server in (main, work, stranger):
            server.stop()
