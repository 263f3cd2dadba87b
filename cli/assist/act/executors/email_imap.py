"""email.move, email.flag, email.draft and email.forward (a draft) over IMAP; and finding a sent message by
its Message-ID.

Messages are named by their Message-ID (the `data.message_id` of an email.received event), searched in
the folder given (default: the folder the task's mail was read from, data.imap.folder, else INBOX). The
account is the one the mail was read from (`[actions.imap]`, or another of the person's accounts,
`[actions.imap.accounts.NAME]`): host, port, security, username, token (or password_env), cafile, drafts
(folder), sent (folder).

A Message-ID comes from a mail, so from anyone: it must have the strict form `<left@right>` (act/headers.py)
and is sent as a quoted string. IMAP's HEADER search matches substrings, so every message it finds is
checked for that exact Message-ID, and an action goes ahead only on exactly one message: none is "not
found", several "ambiguous", and nothing is moved or flagged. The task's own mail needs no search: the
UID ingestion noted (`one`), when it still holds that Message-ID.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

from ...errors import AssistError, TemporaryError
from ...task import mail_folder
from ..headers import ADDRESS, HEADER_TEXT, MESSAGE_ID, REFERENCES
from ..registry import ActionContext, ActionError, executor

FLAGS = {"seen": "\\Seen", "flagged": "\\Flagged", "answered": "\\Answered", "deleted": "\\Deleted",
         "draft": "\\Draft"}
GONE = "no longer in {folder}: moved or deleted in your mail client first, left there"
REPLIED = "the mail has a reply in Sent already; not a second one"
FOLDER = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\r\\n\"\\x00]+$"}
# "" names the task's own mail by the UID it was read from: a mail without a Message-ID (a sender's
# program wrote none, and not every server adds one), as a route's fixed `{{ data.message_id }}`
# renders it. A model's action names its task's own Message-ID or nothing (act/plan.py own_message), so
# "" comes from a route's configuration only. A draft's in_reply_to of "" is no thread: a mail without
# a Message-ID cannot be answered in its own.
THIS_OR_MESSAGE_ID = {"anyOf": [MESSAGE_ID, {"const": ""}]}
_OWN = "(the task's own, by the UID it was read from: it has no Message-ID)"


def account(ctx: ActionContext, strict: bool = True) -> Any:
    """The account an action acts in: the one its task's mail was read from (data.imap.account: one of the
    person's accounts, [actions.imap] or [actions.imap.accounts.NAME], mail.account_of), [actions.imap]'s
    for a task with none. A mail read from an account not configured is not moved or flagged in another
    (`strict`): the copy there is not the one routed. A new mail (a draft, a reply sent through
    [actions.smtp] and its copy in Sent) is [actions.imap]'s then."""
    from ...errors import UsageError
    from ...mail import MailError, account_of, configured_account

    if not ctx.section("imap").get("host"):
        raise ActionError("email: no IMAP account is configured ([actions.imap] host)")
    noted = (ctx.task.get("data") or {}).get("imap")
    try:
        return account_of(ctx.config, noted.get("account") if isinstance(noted, dict) else None)
    except MailError as exc:
        if not strict:
            return configured_account(ctx.config)
        raise ActionError(f"email: {exc}: nothing done") from None
    except UsageError as exc:
        raise ActionError(f"email: {exc}: nothing done") from None


def smtp_of(ctx: ActionContext, here: Any) -> dict[str, Any]:
    """The SMTP server that sends for an account: [actions.smtp] for [actions.imap]'s, else
    [actions.smtp.accounts.NAME] ({} when there is none)."""
    main = ctx.section("smtp")
    return ((main.get("accounts") or {}).get(here.label) or {}) if here.label else main


def _q(folder: str) -> str:
    from ...mail import imap_folder

    return imap_folder(folder)


@contextlib.contextmanager
def session(ctx: ActionContext, here: Any = None) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP connection for one action, to `here` (an account already found), else account(ctx);
    a server out of reach is a temporary error."""
    from ...errors import Unavailable
    from ...mail import imap_connect

    try:
        conn = imap_connect(here or account(ctx))
    except Unavailable as exc:
        raise TemporaryError(str(exc)) from None
    try:
        yield conn
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def find(conn: imaplib.IMAP4, folder: str, message_id: str, readonly: bool = True) -> list[bytes]:
    """The UIDs of the messages in folder whose Message-ID is exactly message_id."""
    from ...mail import imap_quote
    from ..headers import MESSAGE_ID_PATTERN

    if not re.match(MESSAGE_ID_PATTERN, message_id):  # the schema checked it: a last line of defence
        raise ActionError(f"email: {message_id[:80]!r} is not a Message-ID")
    status, _ = conn.select(_q(folder), readonly=readonly)
    if status != "OK":
        raise ActionError(f"email: no folder {folder!r}")
    status, data = conn.uid("SEARCH", "HEADER", "Message-ID", imap_quote(message_id))
    found = (data[0] or b"").split() if status == "OK" else []
    return [uid for uid in found if _message_id_of(conn, uid) == message_id]


def _message_id_of(conn: imaplib.IMAP4, uid: bytes) -> str | None:
    """A message's Message-ID as ingestion reads it, "" when it has none; None when it cannot be fetched
    (gone)."""
    from ...message_id import message_id

    headers = _headers(conn, uid, "MESSAGE-ID")
    if headers is None:
        return None
    value = headers.get("Message-ID")
    return message_id(" ".join(str(value).split())) if value is not None else ""


def _headers(conn: imaplib.IMAP4, uid: bytes, fields: str) -> Any:
    """These header fields of a message (an email.message.Message), None when it cannot be fetched."""
    from email.parser import BytesHeaderParser

    status, data = conn.uid("FETCH", uid.decode(), f"(BODY.PEEK[HEADER.FIELDS ({fields})])")
    raw = next((part[1] for part in data or [] if isinstance(part, tuple)), None)
    return BytesHeaderParser().parsebytes(raw) if status == "OK" and raw is not None else None


def one(conn: imaplib.IMAP4, folder: str, message_id: str, readonly: bool = False, data: Any = None) -> bytes | None:
    """The UID of the message to act on. The task's own mail, where ingestion noted its UID (`data.imap`:
    this folder, this UIDVALIDITY) and that UID holds this Message-ID (or message_id is "":
    THIS_OR_MESSAGE_ID): None when it is gone, whatever other copy is there (a list's copy of a mail and
    the one sent to the person share a Message-ID). Else the one message with this Message-ID a search
    finds, None when none; several are refused as ambiguous."""
    if conn.select(_q(folder), readonly=readonly)[0] != "OK":
        raise ActionError(f"email: no folder {folder!r}")
    noted = noted_uid(conn, folder, data)
    if noted is not None:
        held = _message_id_of(conn, noted)
        if held is None:
            return None  # moved or deleted since it was read
        if held == message_id:
            return noted
    if message_id == "":
        return None
    uids = find(conn, folder, message_id, readonly=readonly)
    if len(uids) > 1:
        raise ActionError(f"email: {len(uids)} messages in {folder} have the Message-ID {message_id}; "
                          "ambiguous, nothing done")
    return uids[0] if uids else None


def noted_uid(conn: imaplib.IMAP4, folder: str, data: Any) -> bytes | None:
    """The UID ingestion noted for a task's mail (data.imap) when it is of this folder, selected, under
    the UIDVALIDITY it has now."""
    noted = data.get("imap") if isinstance(data, dict) else None
    if not isinstance(noted, dict) or noted.get("folder") != folder:
        return None
    uid, validity = noted.get("uid"), noted.get("uidvalidity")
    _, now = conn.response("UIDVALIDITY")
    if type(uid) is not int or type(validity) is not int or not now or not now[-1] or int(now[-1]) != validity:
        return None
    return str(uid).encode()


SENT_LOOKS_S = (0.0, 0.3, 0.7)  # the waits before each look for the provider's own copy in Sent


def keep_in_sent(msg: EmailMessage, ctx: ActionContext) -> str | None:
    """After a send, a copy in the Sent folder, as a mail client keeps one: the person sees there what
    assist sent for them, and a send cut short is looked for there (found_in_sent). Gmail and Fastmail
    file their own copy: looked for first (three looks in a second), none is added then. The mail went,
    so nothing here fails the action: a copy that cannot be kept is said (the returned warning)."""
    from ...mail import folder_to_make

    if not ctx.section("imap").get("host"):
        return None
    here = account(ctx, strict=False)  # the account whose server sent it (smtp_of)
    imap = here.settings
    try:
        with session(ctx, here) as conn:
            folder = sent_folder(conn, imap)
            for wait in SENT_LOOKS_S:
                if folder is None:
                    break
                time.sleep(wait)
                if find(conn, folder, msg["Message-ID"]):
                    return None  # the provider's own copy
            if folder is None:
                folder = folder_to_make(conn, imap.get("sent", "Sent"))
                conn.create(_q(folder))
            status, _ = conn.append(_q(folder), "(\\Seen)", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
            return None if status == "OK" else f"sent; no copy kept in Sent (the server refused it in {folder!r})"
    except (AssistError, OSError, imaplib.IMAP4.error) as exc:
        return f"sent; no copy kept in Sent ({str(exc)[:200]})"


def was_sent(ctx: ActionContext, message_id: str) -> bool | None:
    """Whether the Sent folder (sent_folder) holds the message (None when no IMAP account is configured
    to tell). With no Sent folder, nothing can tell: an error naming the setting, not a "no" (a wrong
    folder name would have the mail sent twice)."""
    if not ctx.section("imap").get("host"):
        return None
    here = account(ctx, strict=False)
    with session(ctx, here) as conn:
        folder = sent_folder(conn, here.settings)
        if folder is None:
            named = here.settings.get("sent", "Sent")
            raise ActionError(f"email: unsure whether the interrupted send went out: no folder {named!r} "
                              f"({here.section} sent); check before retrying")
        return bool(find(conn, folder, message_id))


def reply_in_sent(ctx: ActionContext, message_id: str) -> str | None:
    """The Message-ID of a reply to message_id in the Sent folder (its In-Reply-To names exactly that
    id), whoever sent it: the person from their phone, or assist for another task (in the Sent folder of
    the account the mail came to, which both answer from). None when there is none, or nothing to look in
    (no IMAP account, no Sent folder)."""
    if not ctx.section("imap").get("host"):
        return None
    here = account(ctx, strict=False)
    with session(ctx, here) as conn:
        return reply_in(conn, sent_folder(conn, here.settings), message_id)


def reply_in(conn: imaplib.IMAP4, folder: str | None, message_id: str) -> str | None:
    """The Message-ID of a message in `folder` whose In-Reply-To names exactly message_id, else None."""
    from ...mail import imap_quote

    if folder is None or conn.select(_q(folder), readonly=True)[0] != "OK":
        return None
    status, data = conn.uid("SEARCH", "HEADER", "In-Reply-To", imap_quote(message_id))
    for uid in (data[0] or b"").split() if status == "OK" else []:
        headers = _headers(conn, uid, "IN-REPLY-TO MESSAGE-ID")
        if headers and message_id in re.findall(r"<[^<>\s]+>", str(headers.get("In-Reply-To", ""))):
            return " ".join(str(headers.get("Message-ID", "")).split())[:200] or "(no Message-ID)"
    return None


def sent_folder(conn: imaplib.IMAP4, imap: dict[str, Any]) -> str | None:
    """The folder `[actions.imap] sent` names ("Sent"), else the one the server marks \\Sent, as `assist
    classify correspondents` reads it."""
    from ...mail import folder_on_server

    return folder_on_server(conn, imap.get("sent", "Sent"), "Sent")


@executor("email.move", {"required": ["message_id", "to"],
                         "properties": {"message_id": THIS_OR_MESSAGE_ID, "from": FOLDER, "to": FOLDER}},
          repeatable=True)
def move(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    from ...mail import folder_on_server, folder_to_make

    with session(ctx) as conn:
        source = args.get("from") or mail_folder(ctx.task)
        to = folder_on_server(conn, args["to"])  # "Junk" is Gmail's "[Gmail]/Spam" (mail.SPECIAL_USES)
        uid = one(conn, source, args["message_id"], data=ctx.task.get("data"))
        if uid is None:
            if to is not None and one(conn, to, args["message_id"], readonly=True):
                return {"already": True, **_filed(ctx)}  # moved before (a retry)
            if gone_from(conn, source, ctx.task.get("data")):
                return {"gone": GONE.format(folder=source)}
            raise ActionError(f"email: no message {args['message_id'] or _OWN} in {source}")
        copied = False
        if to is None:
            to = folder_to_make(conn, args["to"])
            conn.create(_q(to))  # fails harmlessly when it was made meanwhile
        elif ctx.resumed:  # cut short after its COPY (a server without MOVE): not copied twice
            copied = one(conn, to, args["message_id"], readonly=True) is not None
        conn.select(_q(source))
        kept = _move(conn, uid.decode(), source, to, copied)
    filed = _filed(ctx)
    warnings = [warning for warning in (kept, filed.get("warning")) if warning]
    return {"moved": 1, "to": to, **filed, **({"warning": "; ".join(warnings)} if warnings else {})}


def _move(conn: imaplib.IMAP4, uid: str, source: str, to: str, copied: bool = False) -> str | None:
    """Moves one mail (its UID in the selected folder `source`) to `to`: MOVE (RFC 6851) where the
    server can; else (hMailServer, older Exchange and Courier) a COPY (none when it is `copied` there
    already), the mail marked deleted and expunged alone (UID EXPUNGE, RFC 4315 UIDPLUS). An EXPUNGE of
    the whole folder would also remove for good what the person marked deleted and kept there, so
    without UIDPLUS it is done only when nothing else there is marked deleted; else the mail stays,
    marked deleted: the warning returned says so."""
    from ...mail import capabilities

    can = capabilities(conn)
    if "MOVE" in can and not copied:
        if conn.uid("MOVE", uid, _q(to))[0] != "OK":
            raise ActionError(f"email: the server refused to move it to {to!r}")
        return None
    if not copied and conn.uid("COPY", uid, _q(to))[0] != "OK":
        raise ActionError(f"email: the server refused to copy it to {to!r}")
    if conn.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")[0] != "OK":
        return f"copied to {to}; the server refused to mark it deleted in {source}, where it still is"
    if "UIDPLUS" in can:
        conn.uid("EXPUNGE", uid)
        return None
    status, marked = conn.uid("SEARCH", "DELETED")
    if status == "OK" and (marked[0] or b"").split() == [uid.encode()]:
        conn.expunge()
        return None
    return (f"copied to {to}; still in {source}, marked deleted: other mail there is marked deleted too, "
            "and this server can only remove all of it at once (your mail client's expunge or compact does)")


def gone_from(conn: imaplib.IMAP4, folder: str, data: Any) -> bool | None:
    """Whether a task's mail (its `data`) has left the folder since it was ingested from it: the person
    moved or deleted it. Ingestion noted its UID (`data.imap`), and a folder never gives a UID twice
    under one UIDVALIDITY. None (falsy) when nothing can tell: no UID noted for this folder, or another
    UIDVALIDITY now."""
    noted = data.get("imap") if isinstance(data, dict) else None
    if not isinstance(noted, dict) or noted.get("folder") != folder:
        return None
    uid, validity = noted.get("uid"), noted.get("uidvalidity")
    if type(uid) is not int or type(validity) is not int or uid < 1:
        return None
    if conn.select(_q(folder), readonly=True)[0] != "OK":
        return None
    _, now = conn.response("UIDVALIDITY")
    if not now or not now[-1] or int(now[-1]) != validity:
        return None
    status, found = conn.uid("SEARCH", "UID", str(uid))
    return not (found[0] or b"").split() if status == "OK" else None


def _filed(ctx: ActionContext) -> dict[str, Any]:
    """The task's mail is kept track of as filed away by its route: the spam route's in Junk (junked.py),
    another route's (filed.py), so that a person who moves it back is heard."""
    from ...decide.spam_policy import spam_route_name
    from ...filed import Filed
    from ...junked import Junked

    route = (ctx.task.get("intent") or {}).get("route")
    data = ctx.task.get("data") or {}
    if not isinstance(route, str) or route not in ctx.config.routes or not isinstance(data, dict) \
            or "sha256" not in data:
        return {}
    if route == spam_route_name(ctx.config):
        problem = Junked(ctx.config.home).remember(str(data["sha256"]))
    else:
        problem = Filed(ctx.config.home).remember(route, str(data["sha256"]))
    return {"warning": problem} if problem else {}


@executor("email.flag", {"required": ["message_id", "flag"],
                         "properties": {"message_id": THIS_OR_MESSAGE_ID, "folder": FOLDER,
                                        "flag": {"enum": sorted(FLAGS)}, "unset": {"type": "boolean"}}},
          repeatable=True)
def flag(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    with session(ctx) as conn:
        folder = args.get("folder") or mail_folder(ctx.task)
        uid = one(conn, folder, args["message_id"], data=ctx.task.get("data"))
        if uid is None:
            if gone_from(conn, folder, ctx.task.get("data")):
                return {"gone": GONE.format(folder=folder)}
            raise ActionError(f"email: no message {args['message_id'] or _OWN} in {folder}")
        op = "-FLAGS.SILENT" if args.get("unset") else "+FLAGS.SILENT"
        conn.uid("STORE", uid.decode(), op, f"({FLAGS[args['flag']]})")
        return {"flagged": 1, "flag": args["flag"], "unset": bool(args.get("unset"))}


@executor("email.draft", {"required": ["to", "subject", "body"],
                          "properties": {"to": ADDRESS, "subject": HEADER_TEXT,
                                         "body": {"type": "string", "maxLength": 5_000_000},
                                         "in_reply_to": THIS_OR_MESSAGE_ID, "references": REFERENCES}},
          repeatable=True)  # a draft put there before is found by its Message-ID, made from the key
def draft(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    here = account(ctx, strict=False)  # the account of the mail replied to
    msg = _new_mail(ctx, here, args["to"])
    msg["Subject"] = args["subject"]
    if args.get("in_reply_to"):
        msg["In-Reply-To"] = args["in_reply_to"]
        msg["References"] = " ".join(dict.fromkeys([*args.get("references", []), args["in_reply_to"]]))
    msg.set_content(args["body"])
    with session(ctx, here) as conn:
        replied = reply_in(conn, sent_folder(conn, here.settings), args["in_reply_to"]) \
            if args.get("in_reply_to") else None
        if replied:
            return {"replied": replied, "not_drafted": REPLIED}
        return _into_drafts(conn, here, msg)


def _new_mail(ctx: ActionContext, here: Any, to: str) -> EmailMessage:
    """A mail of the person's to `to`, from the account `here`, as a send from it would be; its Message-ID
    made from the action's key (a retry finds the draft put there before)."""
    msg = EmailMessage()
    msg["From"] = here.settings.get("from") or smtp_of(ctx, here).get("from") or here.user
    msg["To"] = to
    msg["Message-ID"] = f"<{ctx.key}@assist.local>"
    return msg


def _into_drafts(conn: imaplib.IMAP4, here: Any, msg: EmailMessage) -> dict[str, Any]:
    """Put `msg` in the account's Drafts folder (made when there is none), once."""
    from ...mail import folder_on_server, folder_to_make

    named = here.settings.get("drafts", "Drafts")
    folder = folder_on_server(conn, named, "Drafts")
    if folder is not None and find(conn, folder, msg["Message-ID"]):
        return {"folder": folder, "message_id": msg["Message-ID"], "already": True}
    if folder is None:
        folder = folder_to_make(conn, named)
        conn.create(_q(folder))
    status, _ = conn.append(_q(folder), "(\\Draft)", imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    if status != "OK":
        raise ActionError(f"email: the server refused the draft in {folder!r}")
    return {"folder": folder, "message_id": msg["Message-ID"]}


@executor("email.forward", {"required": ["to", "message_id"],
                            "properties": {"to": ADDRESS, "message_id": THIS_OR_MESSAGE_ID, "folder": FOLDER}},
          repeatable=True)  # as email.draft: the draft put there before is found by its Message-ID
def forward(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """A draft to `to` that forwards a mail of the person's (act/forward_message.py), in the Drafts of the
    account the mail is in."""
    from ..forward_message import MAX_FORWARDED, carry_over, forward_of

    here = account(ctx)
    folder = args.get("folder") or mail_folder(ctx.task)
    with session(ctx, here) as conn:
        uid = one(conn, folder, args["message_id"], readonly=True, data=ctx.task.get("data"))
        if uid is None:
            if gone_from(conn, folder, ctx.task.get("data")):
                return {"gone": GONE.format(folder=folder)}
            raise ActionError(f"email: no message {args['message_id'] or _OWN} in {folder}")
        _, parts = conn.uid("FETCH", uid.decode(), "(RFC822.SIZE)")
        size = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(p if isinstance(p, bytes) else p[0] for p in parts or []))
        if size is None or int(size.group(1)) > MAX_FORWARDED:
            said = f"{int(size.group(1)) // 2**20} MB" if size else "its size unknown"
            raise ActionError(f"email: the mail is too big to forward from here ({said}): forward it from your "
                              "mail app")
        _, parts = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
        raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and isinstance(p[1], bytes)), None)
        if raw is None:
            raise ActionError(f"email: the server did not give the mail {args['message_id'] or _OWN} of {folder}")
        try:
            subject, text, attached = forward_of(raw)
        except ValueError as exc:
            raise ActionError(f"email: the mail cannot be forwarded from here ({exc}): forward it from your "
                              "mail app") from None
        msg = _new_mail(ctx, here, args["to"])
        msg["Subject"] = subject
        msg.set_content(text)
        carry_over(msg, attached)
        return {**_into_drafts(conn, here, msg), "forwarded": args["message_id"] or f"UID {uid.decode()}",
                "attachments": len(attached)}


