"""email.send and email.reply over SMTP (smtplib; TLS, STARTTLS and AUTH as configured), a copy kept in
the Sent folder as a mail client keeps one (email_imap.keep_in_sent).

The Message-ID is made from the action's idempotency key, so a send that was interrupted can be found on
the server (or in the Sent folder) by that id instead of being sent blindly again. The addresses a mail
went to are kept as the person's correspondents (correspondents.py): their mail is never filed in Junk
by the spam model alone.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from ...correspondents import Correspondents
from ..access import password
from ..headers import ADDRESSES, HEADER_TEXT, MESSAGE_ID, REFERENCES
from ..registry import ActionContext, ActionError, executor

if TYPE_CHECKING:
    from ...config import Config

STOPPED = "sent; stopped before its copy in Sent and its addresses as correspondents were kept"
COMMON = {"to": ADDRESSES, "cc": ADDRESSES, "subject": HEADER_TEXT, "body": {"type": "string", "maxLength": 5_000_000}}


def message_id(ctx: ActionContext) -> str:
    return f"<{ctx.key}@assist.local>"


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def smtp_section(ctx: ActionContext) -> dict[str, Any]:
    """The SMTP server a task's mail goes out through: [actions.smtp], or for a mail read from another of
    the person's accounts ([actions.imap.accounts.NAME]) that account's, [actions.smtp.accounts.NAME]: an
    answer goes out from the address the mail came to, never the person's other one. Without such a
    section, nothing is sent."""
    return _sending(ctx)[0]


def _sending(ctx: ActionContext) -> tuple[dict[str, Any], str]:
    """(smtp_section, the NAME of the account it sends for: "" for [actions.smtp])."""
    from .email_imap import account, smtp_of

    if not ctx.section("imap").get("host"):
        return ctx.section("smtp"), ""
    here = account(ctx, strict=False)
    section = smtp_of(ctx, here)
    if here.label and not section:
        raise ActionError(f"email: this mail came to your account {here.label!r}, and mail about it goes out "
                          f"from that account: configure [actions.smtp.accounts.{here.label}] (its server and "
                          "from): nothing sent")
    return section, here.label


SENDS = ("email.send", "email.reply")  # what goes out from one of the person's addresses (act/which_account.py)


def goes_out_from(config: Config, task: dict[str, Any]) -> str:
    """The address a send of this task goes out from, found as the send finds it (the account its mail
    came to, by the person's configuration alone: mail.account_of), or why it would not go out."""
    try:
        section, label = _sending(ActionContext(config, "", task))
    except ActionError as exc:
        return f"it would not go out: {str(exc).removeprefix('email: ')}"
    if not section.get("from"):
        return "it would not go out: no sender is configured ([actions.smtp] from)"
    return f"it goes out from {section['from']}" + (f" (your account {label})" if label else "")


def send(msg: EmailMessage, ctx: ActionContext) -> dict[str, Any]:
    """Send it; the result names the Message-ID (and says so if its addresses could not be kept)."""
    from ...mail import MailError, smtp_send

    section = smtp_section(ctx)
    result = {"message_id": msg["Message-ID"]}
    try:  # once taken, a crash does not send it again (the provider may keep no copy in Sent to find)
        smtp_send(msg, section, password(section, ctx), taken=lambda: ctx.happened({**result, "warning": STOPPED}))
    except MailError as exc:
        raise ActionError(str(exc)) from None
    from .email_imap import keep_in_sent

    problems = [keep_in_sent(msg, ctx),
                Correspondents.of(ctx.config, msg["From"]).remember([msg["To"] or "", msg["Cc"] or ""])]
    said = "; ".join(p for p in problems if p)
    return {**result, "warning": said} if said else result


def _message(args: dict[str, Any], ctx: ActionContext) -> EmailMessage:
    sender = smtp_section(ctx).get("from")
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


def found_in_sent(key: str, ctx: ActionContext) -> dict[str, Any] | bool | None:
    """After a crash mid-send: whether the Sent folder holds the message with the Message-ID made from the
    key (a result when it does, False when it surely does not, None with no IMAP account to tell)."""
    from .email_imap import was_sent

    sent = was_sent(ctx, f"<{key}@assist.local>")
    if sent is None:
        return None
    return {"message_id": f"<{key}@assist.local>", "found_in_sent": True} if sent else False


@executor("email.send", {"required": ["to", "subject", "body"], "properties": COMMON}, check_done=found_in_sent)
def email_send(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    return send(_message(args, ctx), ctx)


@executor("email.reply", {
    "required": ["to", "subject", "body", "in_reply_to"],
    "properties": {**COMMON, "in_reply_to": MESSAGE_ID, "references": REFERENCES},
}, check_done=found_in_sent)
def email_reply(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    from .email_imap import REPLIED, reply_in_sent

    msg = _message(args, ctx)
    replied = reply_in_sent(ctx, args["in_reply_to"])  # the person answered it themselves meanwhile
    if replied:
        return {"replied": replied, "not_sent": REPLIED}
    msg["In-Reply-To"] = args["in_reply_to"]
    refs = [*args.get("references", []), args["in_reply_to"]]
    msg["References"] = " ".join(dict.fromkeys(refs))
    if not msg["Subject"].lower().startswith("re:"):
        msg.replace_header("Subject", f"Re: {msg['Subject']}")
    return send(msg, ctx)
