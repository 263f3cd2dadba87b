"""Parsing RFC 822 messages into the `data` of an `email.received` event.

Robust by design: every header is read defensively (malformed ones fall back to their raw text), text
is read in its charset as mail clients read it (ingest/charsets.py; an unknown one as UTF-8), HTML is
converted to text (the body is what a mail client shows: every text part shown inline, and of a mail in
two versions the HTML one), and a body is cut (and marked so) at MAX_BODY characters so one huge
message cannot block a pipeline.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from ..message_id import message_id
from . import charsets
from .html_text import html_to_text

if TYPE_CHECKING:
    from ..config import Config

MAX_BODY = 100_000
# bytes of one message read (IMAP fetches no more; a file is read to here): a bigger one is read from its
# start, its `size` the whole and `message_truncated` set. Memory stays bounded whatever a server accepts.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_HTML = 10 * MAX_BODY  # characters of an HTML body converted to text (a second's work at most)
MAX_HEADER = 2000  # characters of a subject or another header kept
MAX_LISTED = 100  # recipients, references, header names and attachments kept (lists_truncated names the cut)
# Python's parser reads a container's headers again for each of its parts: 20,000 headers over 20,000
# parts (a 3 MB mail) took 78 s. Above this many header lines x parts a message is read flat.
STRUCTURE_BUDGET = 2_000_000
HEADER_LINE = re.compile(rb"[!-9;-~]+:")
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte of a header that is not ASCII, as the parser keeps it
ASCII_PROBE = b"Subject: <a@b.c>, =?x?q?y?=\r\n\t"  # a charset a header may be read in reads these as ASCII


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as they were sent, each cut at 4 x MAX_HEADER characters before any parsing: the
    modern parser took 5 s for a To of 20,000 addresses."""
    values = [str(raw)[: 4 * MAX_HEADER] for key, raw in msg.raw_items() if key.lower() == name.lower()]
    return [_legacy_text(msg, v) if ESCAPED_BYTE.search(v) else v for v in values]


def _legacy_text(msg: Message, value: str) -> str:
    """A header sent as 8-bit bytes that are not UTF-8 (an old client's latin-1 "Frösche"), read in the
    charset the message declares for its text as mail clients read it (charsets.decode: none declared is
    windows-1252); left as it came (the parser then shows replacement characters) when that charset would
    not read the header's ASCII as ASCII (UTF-16)."""
    sent = value.encode("utf-8", "surrogateescape")
    try:
        sent.decode("utf-8")
        return value  # UTF-8 (RFC 6532): the parser reads it
    except UnicodeDecodeError:
        pass
    try:
        declared = next((c for part in islice(msg.walk(), 20) if part.get_content_maintype() in ("text", "multipart")
                         and (c := part.get_content_charset())), None)
        if ASCII_PROBE.decode(charsets.codec(declared)) != ASCII_PROBE.decode():  # UTF-16 would remake the line
            return value
    except (LookupError, ValueError):  # UnicodeError is a ValueError
        return value
    return charsets.decode(sent, declared)


def _parsed(msg: Message, name: str, raw: str) -> str:
    """A header's value as text, its encoded words read in the charset mail clients read their labels as
    (charsets.relabel_encoded_words); an encoded word the parser leaves as it came keeps its own label."""
    relabelled = charsets.relabel_encoded_words(raw)
    value = _parsed_as_sent(msg, name, relabelled)
    return _parsed_as_sent(msg, name, raw) if relabelled != raw and "=?" in value else value


def _parsed_as_sent(msg: Message, name: str, raw: str) -> str:
    try:
        return str(msg.policy.header_fetch_parse(name, raw))
    except Exception:  # a header the modern parser cannot make sense of: its raw text
        return raw


def _header(msg: Message, name: str) -> str | None:
    raws = _raw_values(msg, name)
    if not raws:
        return None
    return " ".join(_parsed(msg, name, raws[0]).split())[:MAX_HEADER]


def _message_id(msg: Message) -> str | None:
    """The Message-ID as it was sent, comments aside (message_id.py), as a server's copy says it: the
    email package reads `<boss@corp.example>-x` as `<boss@corp.example>`, and an action naming that would
    find the boss's mail, not this one."""
    raws = _raw_values(msg, "message-id")
    return message_id(" ".join(raws[0].split())[:MAX_HEADER]) if raws else None


def _addresses(msg: Message, name: str) -> list[str]:
    """The mailboxes of an address header, each written so that it reads back as the same one (data.from
    is read again: whom the person wrote to, the To of a drafted reply)."""
    out = []
    for raw in _raw_values(msg, name):
        pairs = getaddresses([_parsed(msg, name, raw)])
        sent = ONE_MAILBOX.fullmatch(" ".join(raw.split()))
        if sent and len(pairs) == 1 and pairs[0][1].lower() != sent[2].lower():
            # an address as the name, unquoted (`boss@corp.example <x@evil.example>`): the email package
            # takes the name for the sender; mail clients show, and reply to, the one in angle brackets
            pairs = [(" ".join(_parsed(msg, "subject", sent[1]).split()).strip('"').strip(), sent[2])]
        out += [_mailbox(real, addr) for real, addr in pairs if addr or real]
    return out


ONE_MAILBOX = re.compile(r"([^<>]*)<([^<>\s]+@[^<>\s]+)>")
NEEDS_QUOTES = re.compile(r'[()<>\[\]:;@\\,"]')


def _mailbox(name: str, address: str) -> str:
    """`name <address>`, the name quoted when it holds what would read as address syntax (a comma, an @)."""
    if not (name and address):
        return address or name
    if NEEDS_QUOTES.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


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
    """A text part's words, in its charset as mail clients read it (charsets.decode)."""
    try:
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset()
    except Exception:  # a part the parser kept but cannot decode: its text as it came
        return str(part.get_payload())
    return charsets.decode(payload, charset) if isinstance(payload, bytes) else str(payload or "")


def shown_text(msg: EmailMessage) -> str:
    """The text a mail client shows: each text part shown inline, in order (a message and the note a mail
    server or a list put after it, in multipart/mixed); of a mail in two versions (multipart/alternative)
    the HTML one, as mail clients show it, since the plain version may say something else (a spam's is a
    mail server's notice, a hostile mail's instructions to the model); of HTML with its images
    (multipart/related), the HTML. HTML is converted from its first MAX_HTML characters in all."""
    texts: list[str] = []
    html_budget, length = MAX_HTML, 0
    try:
        parts: list[Message] = list(islice(_shown(msg, 0), MAX_SHOWN_PARTS))
    except Exception:  # a structure the parser kept but cannot walk
        parts = []
    if not parts:  # no text part shown: the first text of any kind
        first: Message | None = next((p for p in islice(msg.walk(), 1000)
                                      if p.get_content_maintype() == "text" and not p.is_multipart()), None)
        parts = [first] if first is not None else []
    for part in parts:
        text = _text_of(part)
        if part.get_content_subtype() == "html":
            source = text[:html_budget]
            html_budget -= len(source)
            text = html_to_text(source)
        text = text.replace("\r\n", "\n").strip()
        if text:
            texts.append(text)
            length += len(text)
        if length >= MAX_BODY or html_budget <= 0:
            break
    return "\n\n".join(texts)


MAX_SHOWN_PARTS = 20  # text parts of one mail read (the body is cut at MAX_BODY characters anyway)


def _shown(part: Message, depth: int) -> Iterator[Message]:
    """The text parts a mail client shows inline, in order (see shown_text)."""
    if depth > 30 or (depth and part.get_content_disposition() == "attachment"):  # a forward attached, say
        return
    if part.is_multipart():
        children = list(islice(part.iter_parts(), 100))  # type: ignore[attr-defined]
        if part.get_content_type() == "multipart/alternative":
            html = [c for c in children if c.get_content_type() == "text/html" or (
                c.is_multipart() and any(p.get_content_type() == "text/html" for p in islice(c.walk(), 100)))]
            plain = [c for c in children if c.get_content_type() == "text/plain"]
            chosen = (html or plain or children[-1:])[-1:]
            for child in chosen:
                yield from _shown(child, depth + 1)
        elif part.get_content_type() == "multipart/related":
            for child in children[:1]:  # its root; the rest are what the root shows (images)
                yield from _shown(child, depth + 1)
        else:
            for child in children:
                yield from _shown(child, depth + 1)
    elif part.get_content_type() in ("text/plain", "text/html"):
        yield part


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
    hops = sum(1 for key, _ in msg.raw_items() if key.lower() == "received")
    automated = headers.get("auto-submitted", "no").lower().split(";")[0].strip() not in ("", "no")
    facts: dict[str, Any] = {
        "headers": headers, "header_names": names, "received_hops": hops,
        "bulk": bool(headers.get("list-id") or headers.get("list-unsubscribe") or automated
                     or headers.get("precedence", "").lower().strip() in BULK_PRECEDENCE),
    }
    verdict = _provider_spam(headers)
    if verdict:
        facts["provider_spam"] = verdict
    auth = _authentication(_header(msg, "authentication-results") or "")  # whole: the verdict comes last
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


def parse_message(raw: bytes, size: int | None = None) -> dict[str, Any]:
    """The event data of one message: addresses, subject, date, ids, body text, attachment names, and the
    facts its headers give (mail_facts). A message whose MIME structure cannot be read (parts nested
    thousands deep make Python's parser recurse past its limit; thousands of headers over thousands of
    parts would take it minutes) is read flat: its headers, and the rest as text, with `mime_error`
    saying why; it is still classified like any other. `size` is the whole message's when `raw` is only
    its start (read_start); over MAX_MESSAGE_BYTES, only that many bytes are read."""
    from ..jsonl import writable

    size = max(size or 0, len(raw))
    raw = raw[:MAX_MESSAGE_BYTES]
    data = _parse(raw, size)
    if size > len(raw):
        data["message_truncated"] = True
    return writable(data)  # a header the parser gave up on keeps its bytes as lone surrogates


class MessageFile(Protocol):  # a file, or a mailbox's view of one message in it
    def read(self, size: int = ..., /) -> bytes: ...
    def seek(self, offset: int, whence: int = ..., /) -> object: ...
    def tell(self) -> int: ...


def read_start(file: MessageFile) -> tuple[bytes, int]:
    """(the first MAX_MESSAGE_BYTES of a message file, the file's whole size)."""
    raw = file.read(MAX_MESSAGE_BYTES)
    file.seek(0, 2)  # a mailbox's message file (mailbox._ProxyFile) returns nothing from seek: tell()
    return raw, max(len(raw), file.tell())


def _parse(raw: bytes, size: int) -> dict[str, Any]:
    why = costly_structure(raw)
    if why is None:
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            return _data(msg, shown_text(msg), _attachments(msg), size)
        except RecursionError:
            why = "MIME parts nested too deeply to read"
        except Exception as exc:  # the parser is lenient by design; whatever still escapes it is this mail's
            why = f"MIME structure unreadable ({type(exc).__name__})"
    from email.parser import BytesHeaderParser

    rest = _flat_text(raw.partition(b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n")[2].decode("utf-8", "replace"))
    # the modern policy, then compat32 (headers not interpreted) for a header the modern one cannot read
    # even alone (a charset named by a NUL byte)
    for policy in (email.policy.default, email.policy.compat32):
        try:
            return {**_data(BytesHeaderParser(policy=policy).parsebytes(raw), rest, [], size), "mime_error": why}
        except Exception:
            continue
    # no reading of the headers holds: the mail still goes on, as its text (one mail must never stop a mailbox)
    return {"from": "", "subject": "", "body_text": rest[:MAX_BODY], "size": size,
            "mime_error": f"{why}; headers unreadable"}


def costly_structure(raw: bytes) -> str | None:
    """Why the full parser would take too long (the largest run of header lines times the boundary lines,
    counted without parsing, over STRUCTURE_BUDGET), else None."""
    parts = raw.count(b"\n--")
    if parts * (len(raw) // 3) <= STRUCTURE_BUDGET:  # a header line ("a:" and its end) has 3 bytes or more
        return None
    largest = run = 0
    for line in raw.split(b"\n"):
        if HEADER_LINE.match(line):
            run += 1
            largest = max(largest, run)
        elif line[:1] not in (b" ", b"\t"):  # a folded header line goes on the run
            run = 0
    if largest * parts <= STRUCTURE_BUDGET:
        return None
    return f"too many headers ({largest:,}) over too many parts ({parts:,}) to read the MIME structure"


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
    """The event data; each list cut at MAX_LISTED (lists_truncated names those cut)."""
    data: dict[str, Any] = {
        "from": (_addresses(msg, "from") or [""])[0],
        "to": _addresses(msg, "to"),
        "cc": _addresses(msg, "cc"),
        "subject": _header(msg, "subject") or "",
        "date": _date(msg),
        "message_id": _message_id(msg),
        "in_reply_to": _header(msg, "in-reply-to"),
        "references": (_header(msg, "references") or "").split() or None,
        "body_text": body[:MAX_BODY],
        "attachments": attachments,
        "size": size,
        **mail_facts(msg),
    }
    if len(body) > MAX_BODY:
        data["body_truncated"] = True
    cut = sorted(k for k, v in data.items() if isinstance(v, list) and len(v) > MAX_LISTED)
    for name in cut:
        data[name] = data[name][:MAX_LISTED]
    if cut:
        data["lists_truncated"] = cut
    return {k: v for k, v in data.items() if v not in (None, [])}


def mail_data(raw: bytes, config: Config, size: int | None = None) -> dict[str, Any]:
    """parse_message, the SHA-256 of the message's bytes (data.sha256: a mail a person takes out of Junk
    comes back with the same bytes, junked.py), and the verdict of a local spamd when `[classify] spamd`
    names one (data.spamd: {"spam", "score", "threshold", "rules"}, or {"error"} when it could not
    answer: the mail goes on)."""
    import hashlib

    data = parse_message(raw, size)
    data["sha256"] = hashlib.sha256(raw).hexdigest()
    address = config.section("classify").get("spamd")
    if address:
        from ..spamd import SpamdError, check

        try:
            data["spamd"] = check(raw, str(address), config)
        except SpamdError as exc:
            data["spamd"] = {"error": str(exc)}
    return data
