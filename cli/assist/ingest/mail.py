"""Parsing RFC 822 messages into the `data` of an `email.received` event.

Robust by design: every header is read defensively (malformed ones fall back to their raw text), an
unknown charset is decoded with replacement characters, HTML-only mail is converted to text, and a body
is cut (and marked so) at MAX_BODY characters so one huge message cannot block a pipeline.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from .html_text import html_to_text

MAX_BODY = 100_000


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # a header the modern parser cannot make sense of
        value = None
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                value = raw
                break
    if value is None:
        return None
    return " ".join(str(value).split())


def _addresses(msg: Message, name: str) -> list[str]:
    values = []
    try:
        values = msg.get_all(name) or []
    except Exception:
        raw = _header(msg, name)
        values = [raw] if raw else []
    out = []
    for real, addr in getaddresses([str(v) for v in values]):
        if addr or real:
            out.append(f"{real} <{addr}>" if real and addr else addr or real)
    return out


def _date(msg: Message) -> str | None:
    raw = _header(msg, "date")
    if not raw:
        return None
    try:
        from datetime import UTC

        parsed = parsedate_to_datetime(raw)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _text_of(part: Message) -> str:
    try:
        return part.get_content()  # type: ignore[attr-defined]
    except Exception:
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            return str(payload)
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")


def _body(msg: EmailMessage) -> str:
    part = None
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        for candidate in msg.walk():
            if candidate.get_content_maintype() == "text" and not candidate.is_multipart():
                part = candidate
                break
    if part is None:
        return ""
    text = _text_of(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def _attachments(msg: Message) -> list[dict[str, Any]]:
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            name = part.get_filename()
            disposition = part.get_content_disposition()
        except Exception:
            continue
        if not name and disposition != "attachment":
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:
            payload = b""
        out.append({"name": name or "(unnamed)", "content_type": part.get_content_type(), "size": len(payload)})
    return out


def parse_message(raw: bytes) -> dict[str, Any]:
    """The event data of one message: addresses, subject, date, ids, body text and attachment names."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = _body(msg)
    data: dict[str, Any] = {
        "from": (_addresses(msg, "from") or [""])[0],
        "to": _addresses(msg, "to"),
        "cc": _addresses(msg, "cc"),
        "subject": _header(msg, "subject") or "",
        "date": _date(msg),
        "message_id": _header(msg, "message-id"),
        "in_reply_to": _header(msg, "in-reply-to"),
        "references": (_header(msg, "references") or "").split() or None,
        "body_text": body[:MAX_BODY],
        "attachments": _attachments(msg),
        "size": len(raw),
    }
    if len(body) > MAX_BODY:
        data["body_truncated"] = True
    return {k: v for k, v in data.items() if v not in (None, [])}
