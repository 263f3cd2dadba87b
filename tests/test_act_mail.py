"""Mail actions against real servers: IMAP (dovecot) executors, rate limits, and sends under SIGKILL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import imaplib
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from assist.demo.servers import SentFolder, start_dovecot
from assist.mail import imap_quote
from conftest import ASSIST, Inbox, free_port, imap_section, jsonl, on_a_terminal, other_account, run


@pytest.fixture
def mail(home):
    imap = start_dovecot()
    sent = SentFolder(imap)
    smtp = Controller(sent, hostname="127.0.0.1", port=free_port())
    smtp.start()
    (home / "assist.toml").write_text(f"""
[queue]
max_attempts = 100
backoff_base = "10ms"
backoff_max = "50ms"
lease = "30s"

[routes.mail]
actions = ["email.send", "email.move", "email.flag", "email.draft"]

[actions.smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
from = "assistant@example.org"

{imap_section(imap, sent="Sent", drafts="Drafts")}
[actions.limits]
"email.flag" = "2/h"
""")
    os.environ["TEST_IMAP_PASSWORD"] = imap.password
    yield imap, sent
    smtp.stop()
    imap.stop()
    os.environ.pop("TEST_IMAP_PASSWORD", None)


def imap_session(server):
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(server.user, server.password)
    return conn


def counts(server, *folders: str) -> list[int | None]:
    """How many messages each folder of a test dovecot holds (None: no such folder)."""
    conn = imap_session(server)
    try:
        return [int(data[0]) if status == "OK" else None
                for status, data in (conn.select(imap_quote(folder)) for folder in folders)]
    finally:
        conn.logout()


def test_move_flag_and_draft_over_imap(mail):
    imap, _ = mail
    for n in range(2):
        raw = f"Message-ID: <m{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@example.org\r\n\r\nbody\r\n"
        imap.deliver(raw.encode(), n)

    def about(message_id: str, *actions: dict) -> dict:  # a model's actions on its task's own mail
        return {"type": "email.received", "intent": {"route": "mail"}, "data": {"message_id": message_id},
                "result": {"parsed": {"actions": list(actions)}}}

    r = run(["act"], jsonl(
        about("<m0@example.org>", {"type": "email.flag", "args": {"message_id": "<m0@example.org>", "flag": "flagged"}},
              {"type": "email.draft", "args": {"to": "a@example.org", "subject": "Re: s0", "body": "Thanks!",
                                               "in_reply_to": "<m0@example.org>"}}),
        about("<m1@example.org>", {"type": "email.move",
                                   "args": {"message_id": "<m1@example.org>", "to": "Newsletters"}}),
        about("<nope@example.org>", {"type": "email.move",
                                     "args": {"message_id": "<nope@example.org>", "to": "X"}}),
    ))
    assert r.code == 1 and "no message <nope@example.org>" in r.err
    conn = imap_session(imap)
    conn.select("INBOX")
    _, data = conn.uid("SEARCH", None, "FLAGGED")
    assert len(data[0].split()) == 1
    _, data = conn.uid("SEARCH", None, "ALL")
    assert len(data[0].split()) == 1  # one moved away
    conn.select('"Newsletters"')
    _, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", '"<m1@example.org>"')
    assert len(data[0].split()) == 1
    conn.select('"Drafts"')
    _, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    draft = message_from_bytes(data[0][1], policy=email_policy)
    assert b"\\Draft" in data[0][0] and draft["In-Reply-To"] == "<m0@example.org>" and "Thanks!" in draft.get_content()
    conn.logout()


LISTS_ROUTE = """
[routes.lists]
actions = ["email.move"]
[[routes.lists.fixed]]
type = "email.move"
args.message_id = "{{ data.message_id }}"
args.to = "Lists"
"""  # a route that files its task's own mail in Lists


def two_copies(imap, home) -> tuple[bytes, dict]:
    """The same mail twice in the INBOX under one Message-ID, the list's copy first, and a route `lists`
    that files mail in Lists: (the copy sent to the person, the list copy's event as ingested)."""
    direct = (b"Message-ID: <t1@lists.example.org>\r\nSubject: Re: the release\r\nFrom: Bo <bo@example.org>\r\n"
              b"\r\nShip it.\r\n")
    imap.deliver(direct.replace(b"Subject:", b"List-Id: <dev.lists.example.org>\r\nSubject:"), 1)
    imap.deliver(direct, 2)
    config = home / "assist.toml"
    config.write_text(config.read_text() + LISTS_ROUTE)
    ingested = run(["ingest", "imap", "--once"])
    assert ingested.code == 0 and len(ingested.lines) == 2, ingested.err
    [listed] = [e for e in ingested.lines if e["data"]["headers"].get("list-id")]
    return direct, listed


def test_a_copy_of_a_mail_is_filed_by_the_uid_it_was_read_from(mail, home):
    """The same mail twice in the INBOX under one Message-ID: the list's copy and the one sent to the
    person (Cc), as most providers keep them (Gmail keeps one). Filing the list's copy searched by
    Message-ID, found two and refused as ambiguous: the task failed, and the person was alerted, for
    every reply in a list thread they were in. Ingestion noted the UID each copy was read from: that
    copy is filed, the other stays. Without a UID to tell by, two are still refused."""
    imap, _ = mail
    direct, listed = two_copies(imap, home)
    r = run(["act"], jsonl(listed | {"intent": {"route": "lists"}}))
    assert r.code == 0, r.err
    assert r.lines[0]["actions"][0]["result"]["moved"] == 1
    conn = imap_session(imap)
    conn.select('"Lists"')
    _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (LIST-ID)])")
    assert b"dev.lists.example.org" in data[0][1]
    conn.select("INBOX")
    _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
    assert len([p for p in data if isinstance(p, tuple)]) == 1 and b"List-Id" not in data[0][1]
    conn.append("INBOX", None, None, direct)  # a third copy, and a task that names no UID
    conn.logout()
    unnoted = {"type": "email.received", "intent": {"route": "lists"}, "data": {"message_id": "<t1@lists.example.org>"}}
    refused = run(["act"], jsonl(unnoted))
    assert refused.code == 1 and "ambiguous, nothing done" in refused.err, refused.err


def test_folders_are_made_under_the_personal_namespace_of_a_server_that_has_one(home):
    """Courier and Cyrus (and dovecot set up as they are) keep a person's folders under "INBOX." and
    refuse any other: making "Lists" or "Junk" was refused ("Mailbox name should probably be prefixed
    with: INBOX."), so every mail the shipped routes file failed. The server's personal namespace
    (NAMESPACE, RFC 2342) is where a folder is looked for when it is not there by its name, and made."""
    imap = start_dovecot(extra_conf='namespace inbox {\n  prefix = INBOX.\n  separator = .\n}\n')
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(imap_section(imap, drafts="Drafts") + """
[routes.lists]
actions = ["email.move", "email.draft"]
""")
        for n in range(3):
            raw = f"Message-ID: <n{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@example.org\r\n\r\nhi\r\n"
            imap.deliver(raw.encode(), n)
        ingested = run(["ingest", "imap", "--once"])
        assert ingested.code == 0 and len(ingested.lines) == 3, ingested.err

        def filed(doc: dict, to: str) -> dict:
            move = {"type": "email.move", "args": {"message_id": doc["data"]["message_id"], "to": to}}
            return doc | {"intent": {"route": "lists"}, "result": {"parsed": {"actions": [move]}}}

        first, second, third = sorted(ingested.lines, key=lambda d: d["data"]["subject"])
        drafted = {"type": "email.draft", "args": {"to": "a@example.org", "subject": "Re: s2", "body": "Thanks!"}}
        r = run(["act"], jsonl(filed(first, "Lists"), filed(second, "Lists"),
                               third | {"intent": {"route": "lists"}, "result": {"parsed": {"actions": [drafted]}}}))
        assert r.code == 0, r.err
        assert [d["actions"][0]["result"].get("to") or d["actions"][0]["result"]["folder"] for d in r.lines] == \
            ["INBOX.Lists", "INBOX.Lists", "INBOX.Drafts"]
        conn = imap_session(imap)
        assert conn.select('"INBOX.Lists"')[1] == [b"2"] and conn.select('"INBOX.Drafts"')[1] == [b"1"]
        conn.create('"INBOX.Sent"')
        conn.append('"INBOX.Sent"', None, None, b"From: me@example.org\r\nTo: Cy <cy@example.com>\r\n\r\nhi\r\n")
        conn.logout()
        people = run(["classify", "correspondents", "--from-sent"])  # [actions.imap] sent: "Sent"
        assert people.code == 0 and "1 correspondent(s) kept" in people.out, people.err
    finally:
        imap.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def test_a_mail_without_a_message_id_is_flagged_and_answered_in_a_draft(mail, home):
    """A route's `{{ data.message_id }}` of a mail that has none is "": the flag is set on the mail the
    task was read from (its UID), and a drafted reply is a new mail rather than a refused action (a mail
    with no Message-ID cannot be replied to in its thread)."""
    imap, _ = mail
    imap.deliver(b"From: Ana <ana@example.org>\r\nSubject: URGENT: keys\r\n\r\nWhere are the keys?\r\n", 1)
    config = home / "assist.toml"
    config.write_text(config.read_text().replace('"2/h"', '"100/h"') + """
[routes.urgent]
actions = ["email.flag", "email.draft"]
[[routes.urgent.fixed]]
type = "email.flag"
args.message_id = "{{ data.message_id }}"
args.flag = "flagged"
[[routes.urgent.fixed]]
type = "email.draft"
args.to = "{{ data.from }}"
args.subject = "Re: {{ data.subject }}"
args.body = "In the drawer."
args.in_reply_to = "{{ data.message_id }}"
""")
    [event] = run(["ingest", "imap", "--once"]).lines
    assert not event["data"].get("message_id")
    r = run(["act"], jsonl(event | {"intent": {"route": "urgent"}}))
    assert r.code == 0, r.err
    assert [a["status"] for a in r.lines[0]["actions"]] == ["done", "done"], r.lines[0]["actions"]
    conn = imap_session(imap)
    conn.select("INBOX")
    assert len(conn.uid("SEARCH", None, "FLAGGED")[1][0].split()) == 1
    conn.select('"Drafts"')
    _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    draft = message_from_bytes(data[0][1], policy=email_policy)
    assert draft["To"] == "Ana <ana@example.org>" and draft["In-Reply-To"] is None and "drawer" in draft.get_content()
    conn.logout()


def test_a_task_acts_on_its_own_copy_and_not_on_another_left_in_its_place(mail, home):
    """Two copies under one Message-ID (the list's and the one sent to the person), and the person files
    the list's in their mail client before assist's move comes to it: the search found the other copy,
    the one left in the INBOX, and filed that in Lists in its place. A task acts on the mail it was read
    from (its UID): gone, it is left to the person, and the other copy stays."""
    imap, _ = mail
    _, listed = two_copies(imap, home)
    conn = imap_session(imap)
    conn.create('"Archive"')
    conn.select("INBOX")
    assert conn.uid("MOVE", str(listed["data"]["imap"]["uid"]), '"Archive"')[0] == "OK"  # the person files it
    r = run(["act"], jsonl(listed | {"intent": {"route": "lists"}}))
    assert r.code == 0, r.err
    assert "gone" in r.lines[0]["actions"][0]["result"], r.lines[0]["actions"]
    conn.select("INBOX")
    _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
    assert len([p for p in data if isinstance(p, tuple)]) == 1 and b"List-Id" not in data[0][1]  # still there
    assert conn.select('"Lists"')[0] != "OK" or conn.select('"Lists"')[1] == [b"0"]
    conn.logout()


def test_a_mail_whose_message_id_carries_a_comment_is_filed(mail, home):
    """A relay may write a comment after the Message-ID (`<id@host> (added by postmaster@...)`, as one
    spam of the corpus has): read as the whole line, it was no Message-ID, and the spam route's move of the
    mail was refused; the server's copy has the same comment, and the move finds it."""
    from assist.ingest.mail import parse_message

    imap, _ = mail
    raw = (b"Message-ID: <3D43A52A@mta.example> (added by postmaster@relay.example)\r\nSubject: offer\r\n"
           b"From: a@example.org\r\n\r\nbuy now\r\n")
    imap.deliver(raw, 1)
    config = home / "assist.toml"
    config.write_text(config.read_text() + """
[routes.junk]
actions = ["email.move"]
[[routes.junk.fixed]]
type = "email.move"
args.message_id = "{{ data.message_id }}"
args.to = "Junk"
""")
    r = run(["act"], jsonl({"type": "email.received", "intent": {"route": "junk"}, "data": parse_message(raw)}))
    assert r.code == 0, r.err
    [out] = r.lines
    assert out["actions"][0]["status"] == "done", out["actions"]
    conn = imap_session(imap)
    assert conn.select('"Junk"', readonly=True) == ("OK", [b"1"])
    conn.logout()


def test_folder_names_beyond_ascii_are_sent_in_modified_utf7(mail, home):
    """IMAP names folders in modified UTF-7 (RFC 3501 5.1.3): a German drafts folder "Entwürfe" and a
    folder with an ampersand. imaplib sends commands as ASCII, so such a name failed every action with a
    UnicodeEncodeError; the server lists them as Entw&APw-rfe and &ANw-bersicht &- Listen."""
    imap, _ = mail
    config = home / "assist.toml"
    config.write_text(config.read_text().replace('drafts = "Drafts"', 'drafts = "Entwürfe"'))
    imap.deliver(b"Message-ID: <m0@example.org>\r\nSubject: s0\r\nFrom: a@example.org\r\n\r\nbody\r\n", 0)
    r = run(["act"], jsonl({"type": "email.received", "intent": {"route": "mail"}, "data": {
        "message_id": "<m0@example.org>"}, "result": {"parsed": {"actions": [
        {"type": "email.move", "args": {"message_id": "<m0@example.org>", "to": "Übersicht & Listen"}},
        {"type": "email.draft", "args": {"to": "a@example.org", "subject": "Re: s0", "body": "Danke!"}},
    ]}}}))
    assert r.code == 0, r.err
    [out] = r.lines
    assert [a["status"] for a in out["actions"]] == ["done", "done"]
    assert out["actions"][1]["result"]["folder"] == "Entwürfe"  # said as the person wrote it
    conn = imap_session(imap)
    _, listed = conn.list()
    names = b"\n".join(listed)
    assert b'"Entw&APw-rfe"' in names or b" Entw&APw-rfe" in names, names
    assert b"&ANw-bersicht &- Listen" in names, names
    for folder in ('"Entw&APw-rfe"', '"&ANw-bersicht &- Listen"'):
        status, count = conn.select(folder, readonly=True)
        assert status == "OK" and count == [b"1"], (folder, status, count)
    conn.logout()


@pytest.mark.parametrize(("name", "sent"), [
    ("~peter/mail/台北/日本語", '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'),  # RFC 3501 5.1.3's own example
    ("Entwürfe", '"Entw&APw-rfe"'), ("A & B", '"A &- B"'), ("INBOX", '"INBOX"'), ("Tab\there", '"Tab&AAk-here"'),
    ('say "hi" 📬', '"say \\"hi\\" &2D3c7A-"'),  # a quote escaped; a character beyond 16 bits as a surrogate pair
])
def test_a_folder_name_goes_out_in_modified_utf7_and_comes_back(name, sent):
    from assist.mail import folder_name, imap_folder

    assert imap_folder(name) == sent
    assert folder_name(sent[1:-1].replace('\\"', '"')) == name
    assert folder_name("&Jjo-!&-&bogus-") == "☺!&&bogus-"  # a run that does not decode is kept as it came
    with pytest.raises(Exception, match="a line break or NUL"):
        imap_folder("Drafts\r\nA1 DELETE INBOX")


def test_rate_limit_is_shared_across_processes(mail):
    imap, _ = mail
    imap.deliver(b"Message-ID: <r@example.org>\r\nSubject: r\r\n\r\nx\r\n", 1)
    docs = [{"type": "email.received", "intent": {"route": "mail"}, "meta": {"max_attempts": 2},
             "data": {"message_id": "<r@example.org>"},
             "result": {"parsed": {"actions": [{"type": "email.flag",
                                                "args": {"message_id": "<r@example.org>", "flag": flag}}]}}}
            for flag in ("seen", "flagged", "answered")]
    procs = [subprocess.Popen([ASSIST, "act"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in docs]
    results = [proc.communicate(jsonl(doc)) for proc, doc in zip(procs, docs, strict=True)]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 0, 1]  # "2/h": two processes got a token, the third did not
    assert sum(b"rate limit 2/h reached" in err for _, err in results) == 1


def test_a_mail_assist_sends_is_kept_in_sent_where_the_server_does_not_keep_it(home, mail):
    """Gmail and Fastmail file in Sent what their SMTP server takes; a Postfix and dovecot server, like
    most a person runs or rents, does not: a mail client keeps the copy itself. assist did not, so the
    person could not see in their Sent folder what their assistant had sent for them, and a send cut short
    was looked for there in vain and sent again. After a send, the copy is kept in Sent unless the server
    filed its own (no second copy); a copy that cannot be kept is a warning, never a failure (the mail
    went: failing would send it again)."""
    imap, _ = mail
    inbox = Inbox()  # an SMTP server that keeps nothing
    plain = Controller(inbox, hostname="127.0.0.1", port=free_port())
    plain.start()
    config = home / "assist.toml"
    filing = config.read_text()
    try:
        def send(subject: str) -> dict:
            doc = {"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
                {"type": "email.send", "args": {"to": "ana@example.org", "subject": subject, "body": "hi"}}]}}}
            r = run(["act"], jsonl(doc))
            assert r.code == 0, r.err
            return r.lines[0]["actions"][0]

        def in_sent(subject: str) -> list[bytes]:
            conn = imap_session(imap)
            conn.select('"Sent"', readonly=True)
            _, found = conn.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
            flags = [conn.uid("FETCH", uid, "(FLAGS)")[1][0] for uid in (found[0] or b"").split()]
            conn.logout()
            return flags

        assert send("by the provider")["status"] == "done"
        assert len(in_sent("by the provider")) == 1  # the provider's copy, and no second one
        config.write_text(filing.replace(f"port = {_smtp_port(filing)}", f"port = {plain.port}"))
        done = send("kept by assist")
        assert done["status"] == "done" and "warning" not in done["result"], done
        [flags] = in_sent("kept by assist")
        assert b"\\Seen" in flags and len(inbox.messages) == 1
        config.write_text(config.read_text().replace(f"port = {imap.port}", f"port = {free_port()}"))
        unkept = send("the IMAP server is away")
        assert unkept["status"] == "done" and "no copy kept in Sent" in unkept["result"]["warning"], unkept
        assert len(inbox.messages) == 2
    finally:
        plain.stop()


def _smtp_port(config: str) -> int:
    import re

    return int(re.search(r"\[actions\.smtp\][^\[]*?port = (\d+)", config).group(1))


@pytest.fixture
def oauth_mail(home):
    """A mail account that takes only OAuth2: dovecot checking each access token with the provider (its
    oauth2 passdb asking a token server that stands in for Microsoft's and Google's, which cannot run
    here), an SMTP server taking XOAUTH2 as such a server does, and a home whose [actions.imap] and
    [actions.smtp] name the token store's oauth2 entry. (the token server, dovecot, the SMTP inbox)"""
    import tempfile

    from aiosmtpd.smtp import AuthResult

    from assist.auth.store import TokenStore
    from helpers.token_server import TokenServer

    class Provider(Inbox):  # an SMTP server that takes an access token the provider knows
        async def auth_XOAUTH2(self, server, args):
            said = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
            return AuthResult(success=any(f"auth=Bearer {t}\x01" in said for t in tokens.valid_access),
                              handled=False)  # a refusal is aiosmtpd's 535

    with TokenServer(expires_in=3600) as tokens:
        ext = Path(tempfile.mkdtemp(prefix="assist-oauth-"))
        ext.chmod(0o755)
        (ext / "oauth2.conf.ext").write_text(f"introspection_mode = post\nintrospection_url = {tokens.url}/introspect\n"
                                             "username_attribute = username\nactive_attribute = active\n"
                                             "active_value = true\n")
        imap = start_dovecot(extra_conf="auth_mechanisms = xoauth2\npassdb {\n  driver = oauth2\n"
                             f"  mechanisms = xoauth2\n  args = {ext / 'oauth2.conf.ext'}\n}}\n")
        inbox = Provider()
        smtp = Controller(inbox, hostname="127.0.0.1", port=free_port(), auth_require_tls=False, auth_required=True)
        smtp.start()
        try:
            store = TokenStore(home)
            store.init("file")
            store.set("outlook", {"kind": "oauth2", "token_url": f"{tokens.url}/token", "client_id": "cid",
                                  "client_secret": "csecret", "refresh_token": "RT-1"})
            (home / "assist.toml").write_text(f"""
[routes.mail]
actions = ["email.send"]
[actions.imap]
host = "127.0.0.1"
port = {imap.port}
security = "plain"
username = "testuser"
token = "outlook"
[actions.smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
username = "testuser"
token = "outlook"
from = "testuser@example.org"
""")
            yield tokens, imap, inbox
        finally:
            smtp.stop()
            imap.stop()
            shutil.rmtree(ext, ignore_errors=True)


def test_a_mail_account_that_takes_only_oauth2_is_read_and_sent_through(oauth_mail):
    """Outlook.com and Microsoft 365 take no password over IMAP or SMTP any more, and Gmail none but an
    app password: only an OAuth2 access token (SASL XOAUTH2). An [actions.imap] and [actions.smtp] `token`
    naming an oauth2 entry of the token store signs in with its access token, refreshed by the store when
    it is about to expire. An access token the provider dropped before its time (a password changed) is
    renewed once and the sign-in tried again; a refresh token it dropped too says to sign in again."""
    tokens, imap, inbox = oauth_mail
    imap.deliver(b"Message-ID: <o1@example.org>\r\nSubject: hello\r\n\r\nhi\r\n", 1)
    read = run(["ingest", "imap", "--once"])
    assert read.code == 0 and [e["data"]["subject"] for e in read.lines] == ["hello"], read.err
    doc = {"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
        {"type": "email.send", "args": {"to": "ana@example.org", "subject": "s", "body": "b"}}]}}}
    sent = run(["act"], jsonl(doc))
    assert sent.code == 0 and len(inbox.messages) == 1, sent.err
    assert tokens.refreshes == 1  # one access token, refreshed once, for both

    tokens.valid_access.clear()  # dropped at the provider an hour early: renewed, and in again
    imap.deliver(b"Message-ID: <o2@example.org>\r\nSubject: again\r\n\r\nhi\r\n", 2)
    again = run(["ingest", "imap", "--once"])
    assert again.code == 0 and [e["data"]["subject"] for e in again.lines] == ["again"], again.err
    tokens.valid_access.clear()
    assert run(["act"], jsonl(doc)).code == 0 and len(inbox.messages) == 2 and tokens.refreshes == 3
    tokens.valid_access.clear()
    tokens.refresh_tokens.clear()  # the refresh token too: only the person can sign in again
    refused = run(["ingest", "imap", "--once"])
    assert refused.code != 0 and "sign in again" in refused.err, refused.err
    assert "assist token set outlook" in refused.err
    assert "Traceback" not in refused.err and "AT-" not in refused.err and "RT-1" not in refused.err


DEVICE_SIGN_IN = ["token", "sign-in", "outlook", "--client-id", "pub",
                  "--scopes", "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"]


def device_urls(tokens) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--device-url", f"{tokens.url}/devicecode", "--token-url", f"{tokens.url}/token"]


def test_an_oauth2_account_is_signed_in_with_a_device_code_then_read_with_its_token(oauth_mail):
    """Outlook.com and Microsoft 365 take only OAuth2, and the refresh token had to come from another tool.
    `assist token sign-in` gets it itself with the device code flow (RFC 8628), as on a machine with no
    browser: it says where to go and the code to type, waits while the person signs in elsewhere (the
    provider answering "pending", then "slow down": each poll waits as long as the provider asks), and
    stores what the provider gives. The account is then read with it, and it is refreshed."""
    tokens, imap, _ = oauth_mail
    tokens.device_answers = ["authorization_pending", "slow_down"]

    r = run([*DEVICE_SIGN_IN, *device_urls(tokens)], timeout=120)

    assert r.code == 0, r.err
    assert f"open {tokens.url}/device and enter the code WDJB-MJHT" in r.err, r.err
    assert r.out.strip() == "signed in: outlook (oauth2), refreshed as it expires"
    assert tokens.device_scopes == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    waits = [later - earlier for earlier, later in itertools.pairwise(tokens.device_polls)]
    # not a speed: the provider's pace kept (the interval it gave, 1 s, then 5 s more after "slow down")
    assert len(tokens.device_polls) == 3 and waits[0] >= 1 and waits[1] >= 6, waits
    imap.deliver(b"Message-ID: <d1@example.org>\r\nSubject: signed in\r\n\r\nhi\r\n", 1)
    read = run(["ingest", "imap", "--once"])
    assert read.code == 0 and [d["data"]["subject"] for d in read.lines] == ["signed in"], read.err
    assert run(["token", "refresh", "outlook"]).code == 0  # a public client: no secret to send


def test_a_device_sign_in_declined_or_pointing_at_a_hostile_address_stores_nothing(home):
    """The person declines (or the code expires): said, exit 1, the stored entry untouched. The provider's
    answer is shown on the person's terminal: an address with control characters (a hyperlink escape that
    would show one address and open another) is refused before anything is shown or polled."""
    from assist.auth.store import TokenStore
    from helpers.token_server import TokenServer

    with TokenServer() as tokens:
        store = TokenStore(home)
        store.init("file")
        store.set("outlook", {"kind": "oauth2", "token_url": "https://example.org/token", "refresh_token": "RT-old"})
        tokens.device_answers = ["authorization_pending", "access_denied"]
        declined = run([*DEVICE_SIGN_IN, *device_urls(tokens)], timeout=120)
        assert declined.code == 1 and "the sign-in was declined (access_denied): nothing stored" in declined.err, \
            declined.err
        tokens.device_answers = ["expired_token"]
        expired = run([*DEVICE_SIGN_IN, *device_urls(tokens)], timeout=120)
        assert expired.code == 1 and "the code expired before the sign-in (expired_token)" in expired.err
        polls = len(tokens.device_polls)
        tokens.verification_uri = "https://microsoft.com/devicelogin\x1b]8;;https://evil.example/\x07"
        hostile = run([*DEVICE_SIGN_IN, *device_urls(tokens)], timeout=120)
        assert hostile.code == 1 and "\x1b" not in hostile.err and "\x07" not in hostile.err
        assert "is not a web address to show" in hostile.err, hostile.err
        assert len(tokens.device_polls) == polls, "not polled"
        assert TokenStore(home).get("outlook")["refresh_token"] == "RT-old"
        assert run(["token", "sign-in", "outlook", "--client-id", "pub", "--device-url", "http://example.org/dc",
                    "--token-url", f"{tokens.url}/token"]).code == 2  # a secret-bearing endpoint in clear text


def test_an_oauth2_account_is_signed_in_in_a_browser_then_read_with_its_token(oauth_mail):
    """Google allows no mail scope to the device code flow, and a Google Workspace account whose
    administrator allows no app password can only sign in in a browser. `assist token sign-in --auth-url`
    listens on this machine (127.0.0.1) and prints the address to open; the person signs in there, the
    provider sends the browser back with a code, and the code is exchanged for the tokens with PKCE (only
    this process knows the verifier). A call back with another state (a page slipping in a sign-in of its
    own) is turned away; a declined sign-in stores nothing."""
    import requests

    tokens, imap, _ = oauth_mail
    sign_in = [ASSIST, "token", "sign-in", "outlook", "--client-id", "cid", "--auth-url", f"{tokens.url}/authorize",
               "--token-url", f"{tokens.url}/token", "--scopes", "https://mail.google.com/"]

    def started() -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen(sign_in, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(b"csecret\n")  # the client secret, on stdin as every secret is
        proc.stdin.close()
        proc.stdin = None  # given: communicate() has nothing more to send
        said = proc.stderr.readline().decode()
        found = re.search(r"open (http\S+) in a browser", said)
        assert found, said
        return proc, found.group(1)

    proc, address = started()
    back = parse_qs(urlsplit(address).query)["redirect_uri"][0]
    assert back.startswith("http://127.0.0.1:")
    assert requests.get(f"{back}/?code=C-forged&state=another", timeout=30).status_code == 400
    requests.get(address, timeout=30)  # the person's browser: they sign in, the provider sends it back
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.decode().strip() == "signed in: outlook (oauth2), refreshed as it expires"
    imap.deliver(b"Message-ID: <b1@example.org>\r\nSubject: through the browser\r\n\r\nhi\r\n", 1)
    read = run(["ingest", "imap", "--once"])
    assert read.code == 0 and [d["data"]["subject"] for d in read.lines] == ["through the browser"], read.err
    assert run(["token", "refresh", "outlook"]).code == 0  # with the client secret it was given

    tokens.consent = False
    proc, address = started()
    requests.get(address, timeout=30)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "the sign-in was declined (access_denied): nothing stored" in err.decode()
    assert run(["ingest", "imap", "--once"]).code == 0  # the first sign-in's tokens still work


def test_a_long_running_reader_signs_in_again_with_the_access_token_of_now(home, oauth_mail):
    """`assist ingest imap --idle` runs for days and reconnects when the server drops it; an access token
    lasts an hour. It signed in again with the token it read at its start: refused, for good, an hour in.
    Each sign-in takes the token store's token of the moment (refreshed there when it is about to expire,
    or by another process meanwhile)."""
    from assist.config_file import load
    from assist.ingest.events import Sink, State
    from assist.ingest.imap import poll
    from assist.mail import configured_account

    tokens, imap, _ = oauth_mail
    config = load(home)
    account = configured_account(config)  # as `ingest imap --idle` holds it
    state = State(home, "imap-oauth")
    imap.deliver(b"Message-ID: <l1@example.org>\r\nSubject: first\r\n\r\nhi\r\n", 1)
    assert poll(account, Sink(config, "inbox"), state).sent == 1
    assert run(["token", "refresh", "outlook"]).code == 0  # the hour is up: a new access token, the old one gone
    assert tokens.valid_access == {"AT-2"}
    imap.deliver(b"Message-ID: <l2@example.org>\r\nSubject: second\r\n\r\nhi\r\n", 2)
    assert poll(account, Sink(config, "inbox"), state).sent == 1

def test_sends_under_sigkill_arrive_exactly_once(mail):
    _, sent = mail
    total = 500
    docs = [{"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
        {"type": "email.send", "args": {"to": f"user{i}@example.org", "subject": f"note {i}", "body": "hello"}}]}}}
        for i in range(total)]
    assert run(["enqueue", "--queue", "act"], jsonl(*docs)).code == 0
    rng = random.Random(5)
    workers = [subprocess.Popen([ASSIST, "act", "--from", "act", "--follow"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(3)]
    kills = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(sent.received.values()) < total * 0.9:
        time.sleep(rng.uniform(0.05, 0.3))
        victim = rng.randrange(len(workers))
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait()
        kills += 1
        workers[victim] = subprocess.Popen([ASSIST, "act", "--from", "act", "--follow"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=60)
        except subprocess.TimeoutExpired:  # still in a send: one more crash, which the run must survive too
            w.kill()
            w.wait()
    # a last worker: reaps what the killed ones held and finishes the queue
    for _ in range(20):
        run(["act", "--from", "act", "--once"], timeout=300)
        stats = run(["queue", "stats", "--json"]).json()[0]
        if stats["depth"]["new"] == 0 and stats["depth"]["cur"] == 0:
            break
        time.sleep(0.2)
    assert kills >= 5
    assert stats["depth"]["done"] == total, stats
    assert len(sent.received) == total, "every message arrived"
    assert set(sent.received.values()) == {1}, "and none twice"


@contextlib.contextmanager
def provider(home, handler_class: type[SentFolder], queue: str = ""):
    """A dovecot and an SMTP server with its own ways (`handler_class`), and a home whose mail route sends
    through them: yields the handler (its `received` counts what arrived)."""
    imap = start_dovecot()
    sent = handler_class(imap)
    smtp = Controller(sent, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(f"""{queue}[routes.mail]
actions = ["email.send"]

[actions.smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
from = "assistant@example.org"

{imap_section(imap, sent="Sent")}""")
        yield sent
    finally:
        smtp.stop()
        imap.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def send_to(address: str) -> dict:
    return {"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
        {"type": "email.send", "args": {"to": address, "subject": "s", "body": "hi"}}]}}}


class AcceptsThenHangsUp(SentFolder):
    """A provider that files the message in Sent and then loses the connection before it answers 250:
    the sender cannot tell whether the mail went out."""

    async def handle_DATA(self, srv: object, session: object, envelope: object) -> str:
        await super().handle_DATA(srv, session, envelope)
        srv.transport.close()  # type: ignore[attr-defined]
        return "250 OK"


def test_a_send_whose_answer_is_lost_is_looked_for_in_sent_not_sent_again(home):
    """The connection drops after the message was handed over and before the server's 250: the send
    is retried later (a network fault is temporary), and the retry looks in the Sent folder first, finds
    the mail and records it as done. Before, the fault said it had not happened, and the retry sent the
    mail a second time."""
    with provider(home, AcceptsThenHangsUp, queue='[queue]\nbackoff_base = "10ms"\nbackoff_max = "50ms"\n\n') as sent:
        assert run(["enqueue", "--queue", "act"], jsonl(send_to("u@example.org"))).code == 0
        for _ in range(5):  # the first run meets the fault; a later one finds its mail in Sent
            run(["act", "--from", "act", "--once"])
            if run(["queue", "stats", "--json"]).json()[0]["depth"]["done"] == 1:
                break
            time.sleep(0.1)

        assert run(["queue", "stats", "--json"]).json()[0]["depth"]["done"] == 1
        assert list(sent.received.values()) == [1], "sent once"


class AcceptsThenFumblesGoodbye(SentFolder):
    """A provider that takes the mail (250) and answers the QUIT after it with a 421."""

    async def handle_QUIT(self, srv: object, session: object, envelope: object) -> str:
        return "421 closing"


def test_a_send_the_server_took_is_done_whatever_it_says_to_goodbye(home):
    """Once the server answered 250 the mail is gone: a 421 to the QUIT that follows is not a failure
    to send. Before, it was taken for "cannot reach" (a fault before sending): the task failed here, and
    under a queue its retry would have sent the mail again (the journal forgot it)."""
    with provider(home, AcceptsThenFumblesGoodbye) as sent:
        r = run(["act"], jsonl(send_to("u@example.org")))

        assert r.code == 0, r.err
        assert r.lines[0]["actions"][0]["status"] == "done"
        assert list(sent.received.values()) == [1]


class TakesItKeepsNoCopyStallsGoodbye(SentFolder):
    """A provider that keeps no copy of what it sends (most but Gmail and Fastmail), slow to answer the
    QUIT that follows its 250: `quitting` is set once the sender has the 250 and says goodbye."""

    def __init__(self, server: object):
        super().__init__(server)  # type: ignore[arg-type]
        self.quitting = threading.Event()

    async def handle_DATA(self, srv: object, session: object, envelope: object) -> str:
        msg = message_from_bytes(envelope.content, policy=email_policy)  # type: ignore[attr-defined]
        self.received[str(msg["Message-ID"])] += 1
        return "250 OK"

    async def handle_QUIT(self, srv: object, session: object, envelope: object) -> str:
        self.quitting.set()
        await asyncio.sleep(60)
        return "221 bye"


def test_a_send_killed_once_the_server_took_it_is_not_sent_again(home):
    """kill -9 (a power cut, the OOM killer) after the server answered 250, before the journal said
    done: the retry looked for the mail in Sent, where a provider that keeps no copy has none (assist
    puts its copy there after the send), and sent it a second time. The 250 is now journaled at once:
    the retry records the mail as sent, saying that its copy in Sent may be missing."""
    with provider(home, TakesItKeepsNoCopyStallsGoodbye) as sent:
        planned = run(["act", "--dry-run"], jsonl(send_to("u@example.org"))).lines[0]
        key = planned["actions"][0]["key"]
        proc = subprocess.Popen([ASSIST, "act"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        assert proc.stdin is not None
        proc.stdin.write(jsonl(planned))
        proc.stdin.close()
        assert sent.quitting.wait(120), "the send reached the goodbye"
        proc.kill()
        proc.wait()

        r = run(["act"], jsonl(planned))

        assert r.code == 0, r.err
        assert list(sent.received.values()) == [1], "sent once"
        [action] = r.lines[0]["actions"]
        assert action["status"] == "done" and action["result"]["message_id"] == f"<{key}@assist.local>"
        assert "Sent" in action["result"]["warning"], action["result"]


class RefusesTheRecipient(SentFolder):
    async def handle_RCPT(self, srv: object, session: object, envelope: object, address: str,
                          options: list[str]) -> str:
        return "550 no such user here"


def test_a_refused_recipient_is_a_failure_that_says_so_not_an_unknown_outcome(home):
    """The server said no before any mail was handed over: the action fails for good with the server's
    reason, and nothing is left to look for."""
    with provider(home, RefusesTheRecipient) as sent:
        r = run(["act"], jsonl(send_to("nobody@example.org")))

        assert r.code == 1 and "recipients refused: nobody@example.org" in r.err, r.err
        assert sent.received == {}


def test_an_interrupted_send_with_no_sent_folder_to_look_in_says_so(mail, home):
    """A send cut short (the journal says started) is looked for in the Sent folder before it is tried
    again. When the configured folder is not there, nothing can tell whether the mail went out: the task
    fails saying so and naming the setting (it said "no folder 'Sent'"), and nothing is sent."""
    _, sent = mail
    toml = home / "assist.toml"
    toml.write_text(toml.read_text().replace('sent = "Sent"', 'sent = "Sent Items"'))
    task = {"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
        {"type": "email.send", "args": {"to": "u@example.org", "subject": "s", "body": "hi"}}]}}}
    planned = run(["act", "--dry-run"], jsonl(task)).lines[0]
    from assist.config_file import load
    from assist.stores import open_stores

    open_stores(load(home)).journal.started(planned["actions"][0]["key"], planned["id"], "email.send")

    r = run(["act"], jsonl(planned))

    assert r.code == 1 and sum(sent.received.values()) == 0
    assert "unsure whether the interrupted send went out: no folder 'Sent Items' ([actions.imap] sent)" in r.err


def test_an_interrupted_send_is_looked_for_in_the_folder_the_server_marks_sent(home):
    """The Sent folder is "Éléments envoyés" (marked \\Sent) while [actions.imap] says "Sent", as `assist
    init` writes it: a send cut short whose mail is there is done, found where the server files sent
    mail, and not sent again (the SMTP server here answers nobody: a second send could not go out)."""
    imap = start_dovecot(extra_conf='namespace inbox {\n  inbox = yes\n  mailbox "Éléments envoyés" {\n'
                                    '    special_use = \\Sent\n    auto = create\n  }\n}\n')
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(f"""[routes.mail]
actions = ["email.send"]

[actions.smtp]
host = "127.0.0.1"
port = {free_port()}
security = "plain"
from = "assistant@example.org"

{imap_section(imap, sent="Sent")}""")
        task = {"type": "email.received", "intent": {"route": "mail"}, "result": {"parsed": {"actions": [
            {"type": "email.send", "args": {"to": "u@example.org", "subject": "s", "body": "hi"}}]}}}
        planned = run(["act", "--dry-run"], jsonl(task)).lines[0]
        key = planned["actions"][0]["key"]
        from assist.config_file import load
        from assist.stores import open_stores

        open_stores(load(home)).journal.started(key, planned["id"], "email.send")
        conn = imap_session(imap)  # what the provider filed before the process died
        conn.append('"&AMk-l&AOk-ments envoy&AOk-s"', None, None,
                    f"Message-ID: <{key}@assist.local>\r\nTo: u@example.org\r\nSubject: s\r\n\r\nhi\r\n".encode())
        conn.logout()

        r = run(["act"], jsonl(planned))

        assert r.code == 0, r.err
        [done] = r.lines
        assert done["actions"][0]["status"] == "done" and done["actions"][0]["result"]["found_in_sent"] is True
    finally:
        imap.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def test_the_people_in_the_sent_folder_become_correspondents(mail, home):
    """`assist classify correspondents --from-sent` reads the To and Cc of the mail already in the Sent
    folder (a real dovecot), not the person's own address; then the count, and the decision, know them."""
    imap, _ = mail
    for folder in ("", "cur", "new", "tmp"):
        (imap.maildir / ".Sent" / folder).mkdir(parents=True, exist_ok=True)
        os.chown(imap.maildir / ".Sent" / folder, imap.uid, imap.gid)  # dovecot runs as nobody under root
    imap.deliver_to(".Sent", b"From: assistant@example.org\r\nTo: Ana <ana@example.org>, assistant@example.org\r\n"
                             b"Cc: =?utf-8?q?B=C3=B8?= <bo@example.net>\r\nSubject: hi\r\n\r\nbody\r\n")
    imap.deliver_to(".Sent", b"From: assistant@example.org\r\nTo: ana@example.org\r\nSubject: again\r\n\r\nbody\r\n")
    assert "0 correspondent(s) kept" in run(["classify", "correspondents"]).out
    r = run(["classify", "correspondents", "--from-sent"])
    assert r.code == 0, r.err
    assert "read the headers of 2 sent message(s); 2 correspondent(s) kept" in r.out
    from assist.correspondents import Correspondents

    people = Correspondents(home)
    assert people.wrote_to("ana@example.org") and people.wrote_to("bo@example.net")
    assert not people.wrote_to("assistant@example.org")
    missing = run(["classify", "correspondents", "--from-sent", "--folder", "Sent \"old\""])
    assert missing.code == 2 and "no folder 'Sent \"old\"'" in missing.err


def test_the_sent_folder_is_found_by_its_special_use_when_not_by_name(home):
    """A server whose Sent folder is "Éléments envoyés" (marked \\Sent, RFC 6154; Outlook's French name,
    which the server lists in modified UTF-7) while [actions.imap] says "Sent", as `assist init` writes
    it: the marked one is read. A folder named on the command line is taken as named, and one with a line
    break never reaches the server."""
    imap = start_dovecot(extra_conf='namespace inbox {\n  inbox = yes\n  mailbox "Éléments envoyés" {\n'
                                    '    special_use = \\Sent\n    auto = create\n  }\n}\n')
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(imap_section(imap, sent="Sent"))
        conn = imap_session(imap)
        conn.append('"&AMk-l&AOk-ments envoy&AOk-s"', None, None, b"From: me@example.org\r\nTo: Cy <cy@example.com>\r\n"
                                               b"Subject: hello\r\n\r\nbody\r\n")
        conn.logout()
        r = run(["classify", "correspondents", "--from-sent"])
        assert r.code == 0 and "read the headers of 1 sent message(s); 1 correspondent(s) kept" in r.out, r.err
        named = run(["classify", "correspondents", "--from-sent", "--folder", "Sent"])  # asked for by name: no guess
        assert named.code == 2 and "no folder 'Sent'" in named.err
        broken = run(["classify", "correspondents", "--from-sent", "--folder", "Sent\r\nA1 DELETE INBOX"])
        assert broken.code == 2 and "a line break or NUL cannot go to an IMAP server" in broken.err
    finally:
        imap.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)


JUNK_ROUTE = """
[routes.junk]
actions = ["email.move", "email.flag"]
[[routes.junk.fixed]]
type = "email.flag"
args.message_id = "{{ data.message_id }}"
args.flag = "seen"
[[routes.junk.fixed]]
type = "email.move"
args.message_id = "{{ data.message_id }}"
args.to = "Junk"
"""


def test_a_mail_the_person_deleted_or_filed_first_is_left_to_them(mail, home):
    """The person reads their mail too: a spam they deleted on their phone, or a mail they filed
    themselves, before the timer's `assist act` came to it, was a failed task ("no message ... in INBOX")
    for each such mail. Ingestion notes the mail's UID, and a folder never gives a UID twice (under one
    UIDVALIDITY): the UID gone, the mail is left to them and the task is done. A mail it cannot tell of
    (no UID noted, or noted under another UIDVALIDITY) still fails: a wrong folder must not pass quietly."""
    imap, _ = mail
    for n in range(3):
        imap.deliver(f"Message-ID: <m{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@b.example\r\n\r\nhi\r\n".encode(), n)
    config = home / "assist.toml"
    config.write_text(config.read_text().replace('"2/h"', '"100/h"') + JUNK_ROUTE)
    ingested = run(["ingest", "imap", "--once"])
    assert ingested.code == 0, ingested.err
    tasks = {t["data"]["message_id"]: {**t, "intent": {"route": "junk"}} for t in ingested.lines}
    conn = imap_session(imap)
    conn.select("INBOX")
    _, data = conn.uid("SEARCH", None, "ALL")
    first, second, _ = data[0].split()
    conn.uid("STORE", first, "+FLAGS.SILENT", "(\\Deleted)")  # the person deletes m0 ...
    conn.expunge()
    conn.create('"Receipts"')
    conn.uid("MOVE", second, '"Receipts"')  # ... and files m1 themselves
    conn.logout()

    r = run(["act"], jsonl(*tasks.values()))
    assert r.code == 0, r.err
    done = {t["data"]["message_id"]: t["actions"] for t in r.lines}
    for mid in ("<m0@example.org>", "<m1@example.org>"):
        assert [a["status"] for a in done[mid]] == ["done", "done"], done[mid]
        assert all(a["result"]["gone"] for a in done[mid]) and "moved" not in done[mid][1]["result"]
    assert done["<m2@example.org>"][1]["result"]["moved"] == 1
    conn = imap_session(imap)
    assert conn.select('"Junk"', readonly=True) == ("OK", [b"1"])  # m2 only: m1 stays where they put it
    assert conn.select('"Receipts"', readonly=True) == ("OK", [b"1"])
    conn.logout()

    anew = {key: value for key, value in tasks["<m0@example.org>"].items() if key != "id"}  # not done before
    unnoted = {**anew, "data": {"message_id": "<m0@example.org>"}}
    rebuilt = {key: value for key, value in tasks["<m1@example.org>"].items() if key != "id"}
    rebuilt["data"] = {**rebuilt["data"], "imap": {**rebuilt["data"]["imap"], "uidvalidity": 1}}
    r = run(["act"], jsonl(unnoted, rebuilt))
    assert r.code == 1 and r.err.count("no message <m0@example.org> in INBOX") == 2, r.err  # flag and move
    assert r.err.count("no message <m1@example.org> in INBOX") == 2


def test_a_reply_to_a_mail_the_person_answered_themselves_is_not_sent_again(mail, home):
    """A reply waits for approval; meanwhile the person answers the mail from their phone. Approved later
    (a batch of approvals, a day on), assist's reply went out too: the sender got two answers, one of
    them not the person's latest word. Before a reply is sent or drafted, the Sent folder is asked for a
    reply to that mail (its In-Reply-To, exactly: IMAP's search matches substrings); with one there,
    nothing goes out and the action says whose reply it found. A mail no one answered is replied to."""
    imap, sent = mail
    for n in range(3):
        imap.deliver(f"Message-ID: <q{n}@example.org>\r\nSubject: q{n}\r\nFrom: a@b.example\r\n\r\nhi\r\n".encode(), n)
    imap.deliver_to(".Sent", b"Message-ID: <mine@phone.example>\r\nIn-Reply-To: <q0@example.org>\r\n"
                             b"From: assistant@example.org\r\nTo: a@b.example\r\nSubject: Re: q0\r\n\r\non it\r\n")
    for n in (1, 2):  # a longer id that contains theirs
        imap.deliver_to(".Sent", f"Message-ID: <other{n}@phone.example>\r\nIn-Reply-To: <q{n}@example.org.evil>\r\n"
                                 f"References: <x@example.org> <q{n}@example.org.evil>\r\n"
                                 "From: assistant@example.org\r\nSubject: Re: not q\r\n\r\nelsewhere\r\n".encode())
    config = home / "assist.toml"
    reply = """type = "{kind}"
args.to = "{{{{ data.from }}}}"
args.subject = "Re: {{{{ data.subject }}}}"
args.body = "Thanks, will do."
args.in_reply_to = "{{{{ data.message_id }}}}"
"""
    config.write_text(config.read_text().replace('actions = ["email.send"', 'actions = ["email.reply", "email.send"')
                      + "[[routes.mail.fixed]]\n" + reply.format(kind="email.reply")
                      + '[routes.drafting]\nactions = ["email.draft"]\n[[routes.drafting.fixed]]\n'
                      + reply.format(kind="email.draft"))

    def mail_task(n: int, route: str) -> dict:
        return {"type": "email.received", "intent": {"route": route},
                "data": {"message_id": f"<q{n}@example.org>", "from": "a@b.example", "subject": f"q{n}"}}

    r = run(["act"], jsonl(mail_task(0, "mail"), mail_task(1, "mail"), mail_task(0, "drafting"),
                           mail_task(2, "drafting")))
    assert r.code == 0, r.err
    done = [task["actions"][0] for task in r.lines]
    assert [a["status"] for a in done] == ["done"] * 4, done
    for action in (done[0], done[2]):
        assert action["result"]["replied"] == "<mine@phone.example>" and "message_id" not in action["result"]
    assert "replied" not in done[1]["result"] and "replied" not in done[3]["result"]
    assert list(sent.received) == [done[1]["result"]["message_id"]]  # q1's reply only
    conn = imap_session(imap)
    assert conn.select('"Drafts"', readonly=True) == ("OK", [b"1"])  # q2's draft only
    conn.logout()
    r = run(["act"], jsonl(mail_task(1, "mail")))  # q1 is answered now, by assist: not a second time either
    assert r.code == 0 and r.lines[0]["actions"][0]["result"]["replied"] == done[1]["result"]["message_id"]
    assert sum(sent.received.values()) == 1


def test_a_routes_move_takes_the_mail_from_the_folder_it_was_read_from(mail, home):
    """`assist ingest imap --folder Work`: the route's fixed email.move (no `from`, as the shipped routes
    have it) looked for the mail in INBOX and failed for every mail of that folder. With no folder given,
    email.move and email.flag look where ingestion read the mail (data.imap.folder), else INBOX."""
    imap, _ = mail
    conn = imap_session(imap)
    conn.create('"Work"')
    conn.logout()
    imap.deliver_to(".Work", b"Message-ID: <w1@example.org>\r\nSubject: w1\r\nFrom: a@b.example\r\n\r\nhi\r\n")
    config = home / "assist.toml"
    config.write_text(config.read_text().replace('"2/h"', '"100/h"') + JUNK_ROUTE)
    ingested = run(["ingest", "imap", "--once", "--folder", "Work"])
    assert ingested.code == 0 and len(ingested.lines) == 1, ingested.err
    r = run(["act"], jsonl({**ingested.lines[0], "intent": {"route": "junk"}}))
    assert r.code == 0, r.err
    assert [a["status"] for a in r.lines[0]["actions"]] == ["done", "done"], r.lines[0]["actions"]
    conn = imap_session(imap)
    assert conn.select('"Junk"', readonly=True) == ("OK", [b"1"]) and conn.select('"Work"') == ("OK", [b"0"])
    conn.logout()


# what a server without MOVE (RFC 6851) says it can do, as hMailServer and older Exchange and Courier do:
# dovecot runs MOVE all the same when asked, so its protocol log (rawlog) tells what assist asked for
WITHOUT_MOVE = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE CHILDREN SPECIAL-USE"


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "no-uidplus"])
def test_a_server_without_move_has_mail_filed_by_copy_and_the_persons_deleted_mail_is_left_alone(home, uidplus):
    """A server that cannot MOVE refused every mail a route files (spam into Junk, lists into Lists):
    the mail is copied, marked deleted and expunged instead. Expunged alone (UID EXPUNGE, RFC 4315
    UIDPLUS): an EXPUNGE of the folder would also remove for good the mail the person marked deleted
    and kept there (a mail client set to mark, not move, what is deleted). Without UIDPLUS the folder
    is expunged only when nothing else in it is marked deleted; else the mail stays marked, and the
    result says so."""
    rawlog = Path(tempfile.mkdtemp(prefix="rawlog-", dir="/tmp"))  # where dovecot's user (nobody) may write
    rawlog.chmod(0o777)
    capability = WITHOUT_MOVE + (" UIDPLUS" if uidplus else "")
    imap = start_dovecot(extra_conf=f"imap_capability = {capability}\nprotocol imap {{\n  rawlog_dir = {rawlog}\n}}\n")
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(imap_section(imap) + LISTS_ROUTE)
        for n in range(3):
            raw = f"Message-ID: <w{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@example.org\r\n\r\nhi\r\n"
            imap.deliver(raw.encode(), n)
        first, second, third = sorted(run(["ingest", "imap", "--once"]).lines, key=lambda d: d["data"]["subject"])
        moved = run(["act"], jsonl(first | {"intent": {"route": "lists"}}))
        assert moved.code == 0, moved.err
        conn = imap_session(imap)
        conn.select("INBOX")
        conn.uid("STORE", str(third["data"]["imap"]["uid"]), "+FLAGS", "(\\Deleted)")  # the person's
        conn.logout()
        kept = run(["act"], jsonl(second | {"intent": {"route": "lists"}}))
        assert kept.code == 0, kept.err
        asked = "".join(path.read_text() for path in rawlog.glob("*.in"))
        assert " MOVE " not in asked and "COPY" in asked, asked
        assert ("UID EXPUNGE" in asked) == uidplus
        conn = imap_session(imap)
        assert conn.select('"Lists"')[1] == [b"2"]
        conn.select("INBOX")
        _, left = conn.uid("SEARCH", None, "ALL")
        _, deleted = conn.uid("SEARCH", None, "DELETED")
        conn.logout()
        ours = str(second["data"]["imap"]["uid"]).encode()
        person = str(third["data"]["imap"]["uid"]).encode()
        if uidplus:
            assert left[0].split() == [person] and deleted[0].split() == [person]
            assert "marked deleted" not in str(kept.lines[0]["actions"][0]["result"])
        else:
            assert sorted(deleted[0].split()) == sorted([ours, person])
            assert "marked deleted" in kept.lines[0]["actions"][0]["result"]["warning"]
        assert moved.lines[0]["actions"][0]["result"]["moved"] == 1
    finally:
        imap.stop()
        shutil.rmtree(rawlog, ignore_errors=True)
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def test_mail_actions_cut_short_by_a_crash_are_finished_once_not_left_unsure(home):
    """kill -9, a reboot or the OOM killer while a mail was filed, flagged or drafted left the action
    `started` in the journal: its retry failed it as "unsure whether it happened", and the task waited for
    a person, its spam still in the inbox. Each is finished instead, and once: a move the dead run had
    copied already (a server without MOVE) is not copied again, a draft it had put in Drafts is not put
    there twice."""
    imap = start_dovecot(extra_conf=f"imap_capability = {WITHOUT_MOVE} UIDPLUS\n")
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(imap_section(imap, drafts="Drafts") + LISTS_ROUTE
                                          + '[routes.mail]\nactions = ["email.flag", "email.draft"]\n')
        for n in range(2):
            imap.deliver(f"Message-ID: <c{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@example.org\r\n\r\nhi\r\n"
                         .encode(), n)
        listed = {"type": "email.received", "intent": {"route": "lists"}, "data": {"message_id": "<c0@example.org>"}}
        answered = {"type": "email.received", "intent": {"route": "mail"}, "data": {"message_id": "<c1@example.org>"},
                    "result": {"parsed": {"actions": [
                        {"type": "email.flag", "args": {"message_id": "<c1@example.org>", "flag": "flagged"}},
                        {"type": "email.draft", "args": {"to": "a@example.org", "subject": "Re: s1", "body": "Yes",
                                                         "in_reply_to": "<c1@example.org>"}}]}}}
        planned = run(["act", "--dry-run"], jsonl(listed, answered)).lines
        [move], [flag, draft] = planned[0]["actions"], planned[1]["actions"]
        from assist.config_file import load
        from assist.stores import open_stores

        journal = open_stores(load(home)).journal
        for task, action in ((planned[0], move), (planned[1], flag), (planned[1], draft)):
            journal.started(action["key"], task["id"], action["type"])
        conn = imap_session(imap)  # what the dead run did: the mail copied to Lists, the draft appended
        conn.create('"Lists"')
        conn.create('"Drafts"')
        conn.select("INBOX")
        conn.uid("COPY", conn.uid("SEARCH", None, "HEADER", "Message-ID", '"<c0@example.org>"')[1][0], '"Lists"')
        conn.append('"Drafts"', "(\\Draft)", None,
                    f"Message-ID: <{draft['key']}@assist.local>\r\nTo: a@example.org\r\nSubject: Re: s1\r\n\r\nYes\r\n"
                    .encode())

        r = run(["act"], jsonl(*planned))

        assert r.code == 0, r.err
        assert [a["status"] for task in r.lines for a in task["actions"]] == ["done", "done", "done"], r.lines
        assert conn.select('"Lists"')[1] == [b"1"], "filed once"
        assert conn.select('"Drafts"')[1] == [b"1"], "drafted once"
        conn.select("INBOX")
        assert conn.uid("SEARCH", None, "ALL")[1][0].split() == conn.uid("SEARCH", None, "FLAGGED")[1][0].split()
        assert len(conn.uid("SEARCH", None, "ALL")[1][0].split()) == 1, "c0 left the inbox, c1 is flagged"
        conn.logout()
    finally:
        imap.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def bridge_shaped_dovecot():  # type: ignore[no-untyped-def]
    """A dovecot shaped as Proton Mail Bridge shows an account: "/" between levels, the person's folders
    under "Folders/" and labels under "Labels/" (both \\Noselect), Spam marked \\Junk, and no folder made
    at the top (Bridge refuses such a CREATE: its imapservice/connector.go; here a global ACL)."""
    acl = Path(tempfile.mkdtemp(prefix="acl-", dir="/tmp"))
    acl.chmod(0o755)
    (acl / "global").write_text("* owner lrwstipe\nFolders owner lrwstipekx\nFolders/* owner lrwstipekxa\n"
                                "Labels owner lrwstipekx\nLabels/* owner lrwstipekxa\n")
    (acl / "global").chmod(0o644)
    imap = start_dovecot(extra_conf=f"mail_plugins = acl\nplugin {{\n  acl = vfile:{acl / 'global'}\n}}\n"
                                    "namespace inbox {\n  inbox = yes\n  separator = /\n"
                                    "  mailbox Spam {\n    special_use = \\Junk\n    auto = create\n  }\n}\n")
    conn = imap_session(imap)
    assert conn.create('"Lists"')[0] == "NO"  # as Bridge answers
    for folder in ('"Folders/Receipts"', '"Labels/Family"'):  # the person's own, made in Proton's web app
        assert conn.create(folder)[0] == "OK"
    conn.logout()
    return imap, acl


def test_mail_is_filed_under_folders_on_proton_mail_bridge(home):
    """Proton Mail Bridge makes no folder at the top: the shipped newsletter route's "Lists" was refused
    ("the server refused to move it to 'Lists'"), for every newsletter. A folder of the person's on
    Bridge is "Folders/NAME": there it is made, then found, as Proton's web app shows it."""
    imap, acl = bridge_shaped_dovecot()
    try:
        os.environ["TEST_IMAP_PASSWORD"] = imap.password
        (home / "assist.toml").write_text(imap_section(imap) + LISTS_ROUTE)
        for n in range(2):
            imap.deliver(f"Message-ID: <p{n}@example.org>\r\nSubject: s{n}\r\nFrom: a@example.org\r\n\r\nhi\r\n"
                         .encode(), n)
        for n in range(2):
            task = {"type": "email.received", "intent": {"route": "lists"},
                    "data": {"message_id": f"<p{n}@example.org>"}}
            r = run(["act"], jsonl(task))
            assert r.code == 0, r.err
            assert r.lines[0]["actions"][0]["result"]["to"] == "Folders/Lists"
        conn = imap_session(imap)
        assert conn.select('"Folders/Lists"')[1] == [b"2"] and conn.select("INBOX")[1] == [b"0"]
        conn.logout()
    finally:
        imap.stop()
        shutil.rmtree(acl, ignore_errors=True)
        os.environ.pop("TEST_IMAP_PASSWORD", None)


def test_a_second_account_configured_has_its_mail_filed_and_answered_in_it(home, two_accounts):
    """A person with two accounts configures the second as [actions.imap.accounts.work] and reads it with
    `assist ingest imap --account work`. Its mail is acted on where it is: a newsletter both accounts got,
    routed to Lists, is filed in the work account (the first account's copy stays where it is); a reply
    is drafted in the work account's Drafts, from its address; the main account's mail is acted on in the
    main account as before."""
    first, second = two_accounts
    (home / "assist.toml").write_text(imap_section(first) + other_account(second, drafts="Entwürfe")
                                      + LISTS_ROUTE + '[routes.mail]\nactions = ["email.draft"]\n')
    newsletter = b"Message-ID: <n1@list.example>\r\nSubject: Weekly\r\nFrom: news@list.example\r\n\r\nhi\r\n"
    first.deliver(newsletter, 1)
    second.deliver(newsletter, 1)
    second.deliver(b"Message-ID: <q1@corp.example>\r\nSubject: Budget\r\nFrom: boss@corp.example\r\n\r\n?\r\n", 2)

    r = run(["ingest", "imap", "--account", "work", "--once"])
    assert r.code == 0, r.err
    read = {line["data"]["message_id"]: line for line in r.lines}
    assert read["<n1@list.example>"]["data"]["imap"]["account"] == f"{second.user}@127.0.0.1:{second.port}"
    reply = {"type": "email.draft", "args": {"to": "boss@corp.example", "subject": "Re: Budget",
                                             "body": "On it.", "in_reply_to": "<q1@corp.example>"}}
    r = run(["act"], jsonl({**read["<n1@list.example>"], "intent": {"route": "lists"}},
                           {**read["<q1@corp.example>"], "intent": {"route": "mail"},
                            "result": {"parsed": {"actions": [reply]}}}))
    assert r.code == 0, r.err

    conn = imap_session(second)
    assert conn.select("INBOX")[1] == [b"1"] and conn.select('"Lists"')[1] == [b"1"]
    assert conn.select('"Entw&APw-rfe"')[1] == [b"1"], "the draft in the work account's Drafts"
    _, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    draft = message_from_bytes(data[0][1], policy=email_policy)
    assert draft["From"] == second.user and draft["In-Reply-To"] == "<q1@corp.example>"
    conn.logout()
    assert counts(first, "INBOX", "Drafts", "Lists") == [1, None, None], "the main account's copy where it was"

    [own] = run(["ingest", "imap", "--once"]).lines
    assert run(["act"], jsonl({**own, "intent": {"route": "lists"}})).code == 0
    assert counts(first, "INBOX", "Lists") == [0, 1]


def a_mail_in_each(first, second) -> tuple[dict, dict]:
    """A mail to the work account (the second dovecot) and one to the first, each ingested from its own."""
    second.deliver(b"Message-ID: <q1@corp.example>\r\nSubject: Budget\r\nFrom: boss@corp.example\r\n\r\n?\r\n", 1)
    first.deliver(b"Message-ID: <f1@home.example>\r\nSubject: Dinner\r\nFrom: ana@home.example\r\n\r\n?\r\n", 1)
    [work_mail] = run(["ingest", "imap", "--account", "work", "--once"]).lines
    [own_mail] = run(["ingest", "imap", "--once"]).lines
    return work_mail, own_mail


def answered(task: dict, to: str) -> dict:
    """The task with a reply to its mail proposed, on the route `mail`."""
    reply = {"type": "email.reply", "args": {"to": to, "subject": "Re", "body": "Yes.",
                                             "in_reply_to": task["data"]["message_id"]}}
    return {**task, "intent": {"route": "mail"}, "result": {"parsed": {"actions": [reply]}}}


def test_a_reply_to_a_second_accounts_mail_goes_out_from_that_account(home, two_accounts):
    """An approved email.reply to a mail of the work account ([actions.imap.accounts.work]) went out through
    [actions.smtp], from the person's own address: their private address, to their colleagues. A mail of an
    account is answered through that account's server, `[actions.smtp.accounts.NAME]`, from its address, its
    copy looked for in that account's Sent; without such a section the reply is refused, saying what to
    configure, and nothing is sent. The main account's mail is still answered through [actions.smtp]."""
    first, second = two_accounts
    mine, theirs = SentFolder(first), SentFolder(second)
    smtp_main = Controller(mine, hostname="127.0.0.1", port=free_port())
    smtp_work = Controller(theirs, hostname="127.0.0.1", port=free_port())
    smtp_main.start()
    smtp_work.start()
    try:
        config = (imap_section(first) + other_account(second) + '[routes.mail]\nactions = ["email.reply"]\n'
                  f'[actions.smtp]\nhost = "127.0.0.1"\nport = {smtp_main.port}\nsecurity = "plain"\n'
                  'from = "me@home.example"\n')
        work_smtp = (f'[actions.smtp.accounts.work]\nhost = "127.0.0.1"\nport = {smtp_work.port}\n'
                     'security = "plain"\nfrom = "me@corp.example"\n')
        (home / "assist.toml").write_text(config)
        work_mail, own_mail = a_mail_in_each(first, second)

        r = run(["act"], jsonl(answered(work_mail, "boss@corp.example")))
        assert r.code == 1 and "[actions.smtp.accounts.work]" in r.err and "nothing sent" in r.err, r.err
        assert not mine.received and not theirs.received

        (home / "assist.toml").write_text(config + work_smtp)
        r = run(["act"], jsonl(answered(work_mail, "boss@corp.example"), answered(own_mail, "ana@home.example")))
        assert r.code == 0, r.err
        assert sum(theirs.received.values()) == 1 and sum(mine.received.values()) == 1
        assert counts(second, "Sent") == [1], "the provider's copy found there: no second one"
        conn = imap_session(second)
        conn.select('"Sent"')
        _, data = conn.uid("FETCH", "1", "(BODY.PEEK[])")
        assert message_from_bytes(data[0][1])["From"] == "me@corp.example"
        conn.logout()
        assert counts(first, "Sent") == [1], "the main account's own reply only: no copy of the work one"
    finally:
        smtp_main.stop()
        smtp_work.stop()


def test_a_held_reply_says_which_of_the_persons_addresses_it_goes_out_from(home, two_accounts):
    """With two accounts, a reply waiting for approval showed its To, subject and body, not its From: that
    the answer to a work mail goes out from the work address, not the private one, was not for the person
    to see before they said yes. Where they approve (`assist queue ls`, `queue approve` on a terminal, and
    the overview `assist top` and the dashboard show) it now says the address it goes out from, found as
    the send will find it; or, when the send would be refused, why. The task cannot say it: a mail that
    claims another account in its document is placed by the person's configuration alone."""
    from assist.config_file import load
    from assist.monitor import overview

    first, second = two_accounts
    config = (imap_section(first) + other_account(second) + '[routes.mail]\nactions = ["email.reply"]\n'
              'confirm = ["email.reply"]\n[actions.smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "plain"\n'
              'from = "me@home.example"\n')
    (home / "assist.toml").write_text(config)
    work_mail, own_mail = a_mail_in_each(first, second)

    r = run(["act"], jsonl(answered(work_mail, "boss@corp.example"), answered(own_mail, "ana@home.example")))
    assert r.code == 0 and r.err.count("awaiting approval") == 2, r.err

    def told() -> dict[str, list[str]]:
        rows = run(["queue", "ls", "--state", "hold", "--json"]).json()
        return {row["about"]: row["awaiting"][0].get("notices", []) for row in rows}

    assert told() == {"Budget": ["it would not go out: this mail came to your account 'work', and mail about "
                                 "it goes out from that account: configure [actions.smtp.accounts.work] "
                                 "(its server and from): nothing sent"],
                      "Dinner": ["it goes out from me@home.example"]}
    (home / "assist.toml").write_text(config + '[actions.smtp.accounts.work]\nhost = "127.0.0.1"\nport = 2526\n'
                                      'security = "plain"\nfrom = "Me at work <me@corp.example>"\n')
    assert told()["Budget"] == ["it goes out from Me at work <me@corp.example> (your account work)"]
    held = overview(load(home).backend(), home / "logs", load(home))["held"]  # what top and the dashboard show
    assert sorted(n for row in held for a in row["awaiting"] for n in a["notices"]) == [
        "it goes out from Me at work <me@corp.example> (your account work)", "it goes out from me@home.example"]
    work_id = next(row["id"] for row in held if row["subject"] == "Budget")
    code, shown = on_a_terminal(["queue", "approve", work_id], "approve?", ["n"])
    assert code == 1 and "look: it goes out from Me at work <me@corp.example> (your account work)" in shown, shown


def test_a_held_mail_says_which_of_the_persons_accounts_it_came_to(home, two_accounts):
    """With two accounts, a mail held for the person (might be spam: theirs to route) and an action on a mail
    waiting for approval (a flag, a move, a draft: done in the account the mail came to) did not say which
    account the mail came to: a phishing mail to the work address and one to the private address read alike.
    Where the person decides (`assist queue ls`, `queue approve` on a terminal, `assist top` and the
    dashboard) it now says so, found by the person's configuration as the actions will find it; a task that
    names an account not configured is said to, never taken for another. With one account nothing is added."""
    from assist.config_file import load
    from assist.monitor import overview
    from assist.task import new_id
    from test_mail_decisions import phishing_mail

    first, second = two_accounts
    routes = ('[routes.spam]\ntypes = ["email.*"]\nactions = ["email.move"]\n'
              '[routes.flag]\ntypes = ["email.*"]\nconfirm = ["email.flag"]\n[[routes.flag.fixed]]\n'
              'type = "email.flag"\nargs.message_id = "{{ data.message_id }}"\nargs.flag = "flagged"\n')
    (home / "assist.toml").write_text(imap_section(first) + other_account(second) + routes)
    second.deliver(phishing_mail(1), 1)  # "Your Apple ID was used to sign in": might be spam, to the work account
    first.deliver(b"Message-ID: <f1@home.example>\r\nSubject: Dinner\r\nFrom: ana@home.example\r\n\r\n?\r\n", 1)
    [phishing] = run(["ingest", "imap", "--account", "work", "--once"]).lines
    [own_mail] = run(["ingest", "imap", "--once"]).lines
    assert run(["classify"], input=jsonl(phishing)).code == 0
    noted = {**own_mail["data"]["imap"], "account": "boss@elsewhere.example:993"}  # no account of theirs
    forged = {**own_mail, "id": new_id(), "key": "forged", "data": {**own_mail["data"], "subject": "Forged",
                                                                      "imap": noted}}
    r = run(["act"], jsonl(*({**task, "intent": {"route": "flag"}} for task in (own_mail, forged))))
    assert r.code == 0 and r.err.count("awaiting approval") == 2, r.err

    rows = {row["about"]: row for row in run(["queue", "ls", "--state", "hold", "--json"]).json()}
    assert rows["Your Apple ID was used to sign in"]["came_to"] == "it came to other (your account work)"
    assert rows["Dinner"]["came_to"] == f"it came to {first.user}"
    assert rows["Dinner"]["awaiting"][0]["notices"] == [f"it came to {first.user}"]
    assert "none of the accounts configured" in rows["Forged"]["came_to"]
    listed = run(["queue", "ls", "--state", "hold"]).out
    assert "your account work" in listed and f"look: it came to {first.user}" in listed, listed
    held = overview(load(home).backend(), home / "logs", load(home))["held"]  # what top and the dashboard show
    assert "it came to other (your account work)" in next(
        row["info"] for row in held if row["subject"] == "Your Apple ID was used to sign in")
    code, shown = on_a_terminal(["queue", "approve", rows["Dinner"]["id"]], "approve?", ["n"])
    assert code == 1 and f"look: it came to {first.user}" in shown, shown

    (home / "assist.toml").write_text(imap_section(first) + routes)  # one account: nothing to tell apart
    alone = run(["queue", "ls", "--state", "hold", "--json"]).json()
    assert not [row for row in alone if "came_to" in row or any(a.get("notices") for a in row.get("awaiting", []))]


def test_the_account_a_mail_was_read_from_is_told_by_its_user_then_its_address(home):
    """data.imap.account (user@host:port, as ingestion notes it) names one of the configured accounts: by
    its user, whatever the host is called; by host and port too when two accounts have that user (the same
    login on two servers). A mail with no note (or one that is not text: a task's own field) is
    [actions.imap]'s; a note naming no account, or two, is refused, never taken for another."""
    from assist.config_file import load
    from assist.mail import MailError, account_of, configured_accounts

    (home / "assist.toml").write_text(
        '[actions.imap]\nhost = "mail.home.example"\nusername = "Me@Home.example"\n'
        '[actions.imap.accounts.work]\nhost = "imap.corp.example"\nusername = "me"\n'
        '[actions.imap.accounts.lab]\nhost = "imap.lab.example"\nport = 1143\nusername = "me"\n')
    config = load(home)
    assert account_of(config, "me@home.example@127.0.0.1:993").label == ""  # the user, any case, any host name
    assert account_of(config, "me@imap.corp.example:993").label == "work"
    assert account_of(config, "ME@imap.lab.example:1143").label == "lab"
    assert account_of(config, None).label == "" and account_of(config, 42).label == ""
    for noted in ("me@localhost:993", "someone@imap.corp.example:993", "", "x\r\n\x1b[2J@evil:1"):
        with pytest.raises(MailError) as refused:
            account_of(config, noted)
        assert "me@imap.corp.example:993" in str(refused.value)  # the accounts there are, named
        assert str(refused.value).isprintable()  # a task's own field reaches a terminal as text only
    (home / "assist.toml").write_text(  # one user on two servers of one host: two ingestion states
        '[actions.imap]\nhost = "h"\nusername = "me"\n[actions.imap.accounts.a]\nhost = "h"\nport = 1143\n'
        'username = "me"\n[actions.imap.accounts.b]\nhost = "h"\nport = 1144\nusername = "me"\n')
    assert len({account.name for account in configured_accounts(load(home))}) == 3


def test_an_account_not_configured_is_named_with_those_that_are(home):
    """`--account` with a name the config has not: one line naming the ones it has, exit 2, nothing read;
    --account and --host together are refused; a config whose account lacks a host or has a name that
    is not a plain word, or names an SMTP server for an account there is none of, is refused by
    `assist config check`."""
    imap = start_dovecot()
    try:
        (home / "assist.toml").write_text(imap_section(imap) + other_account(imap, "work"))
        r = run(["ingest", "imap", "--account", "home", "--once"])
        assert r.code == 2 and "no account 'home' in [actions.imap.accounts] (configured: work)" in r.err, r.err
        r = run(["ingest", "imap", "--account", "work", "--host", "127.0.0.1", "--user", "x", "--once"])
        assert r.code == 2 and "give one of them" in r.err, r.err
        (home / "assist.toml").write_text(imap_section(imap) + '[actions.imap.accounts."my work"]\nhost = "h"\n'
                                          'username = "u"\n[actions.imap.accounts.home]\nusername = "u"\n')
        r = run(["config", "check"])
        assert r.code != 0 and "my work" in r.err and "actions.imap.accounts.home" in r.err, r.err
        (home / "assist.toml").write_text(imap_section(imap) + other_account(imap, "work")
                                          + '[actions.smtp.accounts.wrok]\nhost = "h"\nfrom = "me@corp.example"\n')
        r = run(["config", "check"])
        assert r.code != 0 and "actions.smtp.accounts.wrok: no [actions.imap.accounts.wrok]" in r.err \
            and "(configured: work)" in r.err, r.err
    finally:
        imap.stop()


def test_a_mail_read_from_another_account_is_not_acted_on_in_the_configured_one(home):
    """A home reads two accounts (`assist ingest imap --host ... --user ...` for the second), and its mail
    actions act on [actions.imap]'s. A newsletter both accounts got, read from the second and routed to
    Lists, had the first account's copy filed instead, and was said done. The account a mail was read from
    is noted with it; an action on it in another account (another user signing in) is refused, saying so,
    and nothing is moved. A reply to it is a new mail, drafted in the configured account as before. The
    same account read under another name of its host is acted on."""
    first, second = start_dovecot(), start_dovecot(login="other")
    try:
        os.environ["TEST_IMAP_PASSWORD"] = first.password
        (home / "assist.toml").write_text(imap_section(first) + LISTS_ROUTE
                                          + '[routes.mail]\nactions = ["email.draft"]\n')
        newsletter = b"Message-ID: <n1@list.example>\r\nSubject: Weekly\r\nFrom: news@list.example\r\n\r\nhi\r\n"
        first.deliver(newsletter, 1)
        second.deliver(newsletter, 1)
        os.environ["ASSIST_IMAP_PASSWORD"] = second.password
        [read] = run(["ingest", "imap", "--host", "127.0.0.1", "--port", str(second.port), "--plain",
                      "--user", second.user, "--once"]).lines

        r = run(["act"], jsonl({**read, "intent": {"route": "lists"}}))

        assert r.code == 1, r.err
        assert f"read from {second.user}@127.0.0.1:{second.port}" in r.err and "nothing done" in r.err, r.err
        for server in (first, second):
            conn = imap_session(server)
            assert conn.select("INBOX")[1] == [b"1"], "each account's copy where it was"
            conn.logout()
        reply = {"type": "email.draft", "args": {"to": "news@list.example", "subject": "Re: Weekly",
                                                 "body": "Thanks", "in_reply_to": "<n1@list.example>"}}
        r = run(["act"], jsonl({**read, "intent": {"route": "mail"}, "result": {"parsed": {"actions": [reply]}}}))
        assert r.code == 0, r.err
        conn = imap_session(first)
        assert conn.select('"Drafts"')[1] == [b"1"]
        conn.logout()
        os.environ["ASSIST_IMAP_PASSWORD"] = first.password
        [own] = run(["ingest", "imap", "--host", "localhost", "--port", str(first.port), "--plain",
                     "--user", first.user, "--once"]).lines
        assert run(["act"], jsonl({**own, "intent": {"route": "lists"}})).code == 0
        assert counts(first, "INBOX", "Lists") == [0, 1]
    finally:
        first.stop()
        second.stop()
        os.environ.pop("TEST_IMAP_PASSWORD", None)
        os.environ.pop("ASSIST_IMAP_PASSWORD", None)
