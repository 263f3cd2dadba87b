"""email.send and email.reply over SMTP (smtplib; TLS, STARTTLS and AUTH as configured).

The Message-ID is made from the action's idempotency key, so a send that was interrupted can be found on
the server (or in the Sent folder) by that id instead of being sent blindly again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from ...errors import TemporaryError
from ...net import is_loopback
from ..access import password
from ..headers import ADDRESSES, HEADER_TEXT, MESSAGE_ID, REFERENCES
from ..registry import ActionContext, ActionError, executor

COMMON = {"to": ADDRESSES, "cc": ADDRESSES, "subject": HEADER_TEXT, "body": {"type": "string", "maxLength": 5_000_000}}


def message_id(ctx: ActionContext) -> str:
    return f"<{ctx.key}@assist.local>"


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def send(msg: EmailMessage, ctx: ActionContext) -> None:
    section = ctx.section("smtp")
    host = section.get("host")
    if not host:
        raise ActionError("email: no SMTP server is configured ([actions.smtp] host)")
    security = section.get("security", "starttls")
    port = section.get("port", 465 if security == "tls" else 587)
    if security == "plain" and not is_loopback(host) and section.get("username"):
        raise ActionError(f"email: a password is only sent unencrypted to this machine, not to {host}")
    context = ssl.create_default_context(cafile=section.get("cafile"))
    try:
        if security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=30)
            if security == "starttls":
                server.starttls(context=context)
        with server:
            if section.get("username"):
                server.login(section["username"], password(section, ctx) or "")
            server.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise ActionError(f"email: the SMTP server refused the login ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise ActionError(f"email: recipients refused: {', '.join(exc.recipients)}") from None
    except ssl.SSLCertVerificationError as exc:
        raise ActionError(f"email: {host}'s certificate is not trusted ({exc.verify_message}); "
                          "set [actions.smtp] cafile for a private CA") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
        raise TemporaryError(f"email: cannot reach {host}:{port} ({type(exc).__name__})") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TemporaryError(f"email: the SMTP server said try later ({exc.smtp_code})") from None
        raise ActionError(f"email: the SMTP server refused the message ({exc.smtp_code})") from None


def _message(args: dict[str, Any], ctx: ActionContext) -> EmailMessage:
    sender = ctx.section("smtp").get("from")
    if not sender:
        raise ActionError("email: no sender is configured ([actions.smtp] from)")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(_list(args["to"]))
    if args.get("cc"):
        msg["Cc"] = ", ".join(_list(args["cc"]))
    msg["Subject"] = args.get("subject", "")
    msg["Message-ID"] = message_id(ctx)
    msg.set_content(args.get("body", ""))
    return msg


@executor("email.send", {"required": ["to", "subject", "body"], "properties": COMMON})
def email_send(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    msg = _message(args, ctx)
    send(msg, ctx)
    return {"message_id": msg["Message-ID"]}


@executor("email.reply", {
    "required": ["to", "subject", "body", "in_reply_to"],
    "properties": {**COMMON, "in_reply_to": MESSAGE_ID, "references": REFERENCES},
})
def email_reply(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    msg = _message(args, ctx)
    msg["In-Reply-To"] = args["in_reply_to"]
    refs = [*args.get("references", []), args["in_reply_to"]]
    msg["References"] = " ".join(dict.fromkeys(refs))
    if not msg["Subject"].lower().startswith("re:"):
        msg.replace_header("Subject", f"Re: {msg['Subject']}")
    send(msg, ctx)
    return {"message_id": msg["Message-ID"]}
