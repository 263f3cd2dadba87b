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
from typing import TYPE_CHECKING, Any

from .html_text import html_to_text

if TYPE_CHECKING:
    from ..config import Config

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


# Headers kept as they are (first 300 characters of the topmost instance): what tells a list, bulk or
# automated mail, and what the spam model reads besides the text (decide/spam.py)
KEPT_HEADERS = ("list-id", "list-unsubscribe", "list-post", "precedence", "auto-submitted", "return-path",
                "reply-to", "x-mailer", "user-agent", "content-type", "x-priority", "organization",
                "authentication-results", "x-spam-flag", "x-spam-status", "x-spam-score")
BULK_PRECEDENCE = ("bulk", "list", "junk")


def mail_facts(msg: Message) -> dict[str, Any]:
    """What the headers already say, for rules and the spam model: the kept headers, every header's
    name, the number of Received hops, whether the mail is bulk (a list, a newsletter, a robot), and
    a provider's spam verdict and sender authentication when present.

    Every header here can be written by the sender: a provider's verdict is only the topmost one, and
    only a positive verdict ("this is spam") is ever acted on (docs/classify.md)."""
    headers: dict[str, str] = {}
    for name in KEPT_HEADERS:
        value = _header(msg, name)
        if value:
            headers[name] = value[:300]
    names = sorted({str(k).lower() for k in msg.keys()})  # noqa: SIM118 - a Message is not a dict
    try:
        hops = len(msg.get_all("received") or [])
    except Exception:
        hops = 0
    automated = headers.get("auto-submitted", "no").lower().split(";")[0].strip() not in ("", "no")
    facts: dict[str, Any] = {
        "headers": headers, "header_names": names, "received_hops": hops,
        "bulk": bool(headers.get("list-id") or headers.get("list-unsubscribe") or automated
                     or headers.get("precedence", "").lower().strip() in BULK_PRECEDENCE),
    }
    verdict = _provider_spam(headers)
    if verdict:
        facts["provider_spam"] = verdict
    auth = _authentication(headers.get("authentication-results", ""))
    if auth:
        facts["authentication"] = auth
    return facts


def _provider_spam(headers: dict[str, str]) -> dict[str, Any] | None:
    """{"flag": bool, "score": float?} from X-Spam-Flag / X-Spam-Status / X-Spam-Score, else None."""
    import re

    flag = headers.get("x-spam-flag", "").strip().lower()
    status = headers.get("x-spam-status", "")
    if not (flag or status or headers.get("x-spam-score")):
        return None
    out: dict[str, Any] = {"flag": flag == "yes" or status.strip().lower().startswith("yes")}
    score = re.search(r"(?:score|hits)=(-?\d+(?:\.\d+)?)", status) or re.fullmatch(
        r"\s*(-?\d+(?:\.\d+)?)\s*", headers.get("x-spam-score", ""))
    if score:
        out["score"] = float(score.group(1))
    return out


def _authentication(results: str) -> dict[str, str]:
    """spf, dkim and dmarc outcomes of an Authentication-Results header (RFC 8601), as its writer saw them."""
    import re

    out: dict[str, str] = {}
    for method, outcome in re.findall(r"\b(spf|dkim|dmarc)=(\w+)", results, flags=re.IGNORECASE):
        out.setdefault(method.lower(), outcome.lower())
    return out


def parse_message(raw: bytes) -> dict[str, Any]:
    """The event data of one message: addresses, subject, date, ids, body text, attachment names, and the
    facts its headers give (mail_facts). A message whose MIME structure cannot be read (parts nested
    thousands deep make Python's parser recurse past its limit) is read flat: its headers, and the rest
    as text, with `mime_error` saying why; it is still classified like any other."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        return _data(msg, _body(msg), _attachments(msg), len(raw))
    except RecursionError:
        why = "MIME parts nested too deeply to read"
    except Exception as exc:  # the parser is lenient by design; whatever still escapes it is this mail's
        why = f"MIME structure unreadable ({type(exc).__name__})"
    from email.parser import BytesHeaderParser

    head = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    rest = raw.partition(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n")[2]
    return {**_data(head, _flat_text(rest.decode("utf-8", errors="replace")), [], len(raw)), "mime_error": why}


def _flat_text(text: str) -> str:
    """The lines of a body that are neither a part's boundary ("--b1") nor the headers after one."""
    lines, in_part_headers = [], False
    for line in text.splitlines():
        if line.startswith("--") and not line.startswith("-- "):  # "-- " opens a signature
            in_part_headers = True
        elif in_part_headers:
            in_part_headers = bool(line.strip())
        else:
            lines.append(line)
    return "\n".join(lines).strip()


def _data(msg: Message, body: str, attachments: list[dict[str, Any]], size: int) -> dict[str, Any]:
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
        "attachments": attachments,
        "size": size,
        **mail_facts(msg),
    }
    if len(body) > MAX_BODY:
        data["body_truncated"] = True
    return {k: v for k, v in data.items() if v not in (None, [])}


def mail_data(raw: bytes, config: Config) -> dict[str, Any]:
    """parse_message, and the verdict of a local spamd when `[classify] spamd` names one (data.spamd:
    {"spam", "score", "threshold", "rules"}, or {"error"} when it could not answer: the mail goes on)."""
    data = parse_message(raw)
    address = config.section("classify").get("spamd")
    if address:
        from ..spamd import SpamdError, check

        try:
            data["spamd"] = check(raw, str(address), config)
        except SpamdError as exc:
            data["spamd"] = {"error": str(exc)}
    return data
