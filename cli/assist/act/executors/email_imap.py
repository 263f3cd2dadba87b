"""email.move, email.flag and email.draft over IMAP; and finding a sent message by its Message-ID.

Messages are named by their Message-ID (the `data.message_id` of an email.received event), searched in
the folder given (default INBOX). The account is `[actions.imap]`: host, port, security, username,
token (or password_env), cafile, drafts (folder), sent (folder).
"""

from __future__ import annotations

import contextlib
import imaplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

from ...errors import TemporaryError
from ..access import password
from ..registry import ActionContext, ActionError, executor

FLAGS = {"seen": "\\Seen", "flagged": "\\Flagged", "answered": "\\Answered", "deleted": "\\Deleted",
         "draft": "\\Draft"}
MESSAGE_ID = {"type": "string", "minLength": 3, "maxLength": 998}
FOLDER = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\r\\n\"]+$"}


def account(ctx: ActionContext) -> Any:
    from ...ingest.imap import ImapAccount

    section = ctx.section("imap")
    if not section.get("host"):
        raise ActionError("email: no IMAP account is configured ([actions.imap] host)")
    security = section.get("security", "tls")
    return ImapAccount(section["host"], section.get("port", 993 if security == "tls" else 143),
                       section.get("username", ""), password(section, ctx) or "", "INBOX", security,
                       section.get("cafile"))


@contextlib.contextmanager
def session(ctx: ActionContext) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP connection for one action; a server out of reach is a temporary error."""
    from ...errors import Unavailable
    from ...ingest.imap import connect as imap_connect

    try:
        conn = imap_connect(account(ctx))
    except Unavailable as exc:
        raise TemporaryError(str(exc)) from None
    try:
        yield conn
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def _q(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find(conn: imaplib.IMAP4, folder: str, message_id: str, readonly: bool = True) -> list[bytes]:
    status, _ = conn.select(_q(folder), readonly=readonly)
    if status != "OK":
        raise ActionError(f"email: no folder {folder!r}")
    status, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", f'"{message_id}"')
    return (data[0] or b"").split() if status == "OK" else []


def was_sent(ctx: ActionContext, message_id: str) -> bool | None:
    """Whether the Sent folder holds the message (None when no IMAP account is configured to tell)."""
    if not ctx.section("imap").get("host"):
        return None
    with session(ctx) as conn:
        return bool(find(conn, ctx.section("imap").get("sent", "Sent"), message_id))


@executor("email.move", {"required": ["message_id", "to"],
                         "properties": {"message_id": MESSAGE_ID, "from": FOLDER, "to": FOLDER}})
def move(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    with session(ctx) as conn:
        source = args.get("from", "INBOX")
        uids = find(conn, source, args["message_id"], readonly=False)
        if not uids:
            if _exists(conn, args["to"]) and find(conn, args["to"], args["message_id"]):
                return {"already": True}  # moved before (a retry)
            raise ActionError(f"email: no message {args['message_id']} in {source}")
        conn.create(_q(args["to"]))  # fails harmlessly when it exists
        conn.select(_q(source))
        status, _ = conn.uid("MOVE", b",".join(uids).decode(), _q(args["to"]))
        if status != "OK":
            raise ActionError(f"email: the server refused to move it to {args['to']!r}")
        return {"moved": len(uids), "to": args["to"]}


@executor("email.flag", {"required": ["message_id", "flag"],
                         "properties": {"message_id": MESSAGE_ID, "folder": FOLDER,
                                        "flag": {"enum": sorted(FLAGS)}, "unset": {"type": "boolean"}}})
def flag(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    with session(ctx) as conn:
        folder = args.get("folder", "INBOX")
        uids = find(conn, folder, args["message_id"], readonly=False)
        if not uids:
            raise ActionError(f"email: no message {args['message_id']} in {folder}")
        op = "-FLAGS.SILENT" if args.get("unset") else "+FLAGS.SILENT"
        conn.uid("STORE", b",".join(uids).decode(), op, f"({FLAGS[args['flag']]})")
        return {"flagged": len(uids), "flag": args["flag"], "unset": bool(args.get("unset"))}


@executor("email.draft", {"required": ["to", "subject", "body"],
                          "properties": {"to": {"type": "string", "minLength": 3, "maxLength": 998},
                                         "subject": {"type": "string", "maxLength": 998},
                                         "body": {"type": "string", "maxLength": 5_000_000},
                                         "in_reply_to": MESSAGE_ID,
                                         "references": {"type": "array", "items": {"type": "string"}}}})
def draft(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    folder = ctx.section("imap").get("drafts", "Drafts")
    msg = EmailMessage()
    msg["From"] = ctx.section("smtp").get("from") or ctx.section("imap").get("username", "")
    msg["To"] = args["to"]
    msg["Subject"] = args["subject"]
    msg["Message-ID"] = f"<{ctx.key}@assist.local>"
    if args.get("in_reply_to"):
        msg["In-Reply-To"] = args["in_reply_to"]
        msg["References"] = " ".join(dict.fromkeys([*args.get("references", []), args["in_reply_to"]]))
    msg.set_content(args["body"])
    with session(ctx) as conn:
        if _exists(conn, folder) and find(conn, folder, msg["Message-ID"]):
            return {"folder": folder, "message_id": msg["Message-ID"], "already": True}
        conn.create(_q(folder))
        status, _ = conn.append(_q(folder), "(\\Draft)", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
        if status != "OK":
            raise ActionError(f"email: the server refused the draft in {folder!r}")
        return {"folder": folder, "message_id": msg["Message-ID"]}


def _exists(conn: imaplib.IMAP4, folder: str) -> bool:
    status, data = conn.list('""', _q(folder))
    return status == "OK" and bool(data and data[0])
