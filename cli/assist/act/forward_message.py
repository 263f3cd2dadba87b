"""The draft of a forward (email.forward): the mail as the person's mail client shows it (its text, an HTML
version read as text, as ingestion reads it), under lines that say whose it was, with its attachments as
they came (a mail attached goes whole). No model reads or writes any of it.

Every header of the mail is a stranger's words: its sender, subject and date go into the draft's text as
one printable line each, and its subject and attachments' names into the draft's headers as values the
email package encodes, on one line: never a header line of their own (a subject that decodes to
"Invoice\\r\\nBcc: thief@evil.example" adds no one).
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage, Message
from itertools import islice

MAX_FORWARDED = 25 * 1024 * 1024  # bytes of a mail forwarded from here: about what mail providers send
MAX_ATTACHED = 100  # attachments carried over
MAX_DEPTH = 30  # of nested parts looked into


def forward_of(raw: bytes) -> tuple[str, str, list[Message]]:
    """(the draft's subject, its text, the attachments to carry over) of the mail `raw`; ValueError when its
    parts cannot be read (what ingestion reads flat, ingest/mail.py)."""
    import email
    import email.policy

    from ..ingest.mail import costly_structure, parse_message, shown_text
    from ..printable import printable

    why = costly_structure(raw)
    if why is not None:
        raise ValueError(why)
    try:
        original = email.message_from_bytes(raw, policy=email.policy.default)
        text = shown_text(original)
        attached = list(islice(_attached(original, 0), MAX_ATTACHED))
    except RecursionError:
        raise ValueError("MIME parts nested too deeply to read") from None
    facts = parse_message(raw)  # each header as ingestion reads a stranger's: bounded, decoded once

    def line(value: object) -> str:
        return " ".join(printable(str(value or "")).split())

    subject = line(facts.get("subject"))[:200]
    said = [("From", facts.get("from")), ("Date", original.get("Date", "")), ("Subject", subject),
            ("To", ", ".join(facts.get("to") or [])), ("Cc", ", ".join(facts.get("cc") or []))]
    head = "\n".join(f"{name}: {line(value)}" for name, value in said if line(value))
    forwarded = "Fwd: " + subject if not subject.lower().startswith(("fwd:", "fw:")) else subject
    return forwarded, f"---------- Forwarded message ----------\n{head}\n\n{text}\n", attached


def _attached(part: Message, depth: int) -> Iterator[Message]:
    """The parts of a mail that are not its text: attachments, inline images, a mail attached (whole)."""
    if depth > MAX_DEPTH:
        return
    if depth and part.get_content_maintype() == "message":
        yield part
    elif part.is_multipart():
        for child in islice(part.iter_parts(), 1000):  # type: ignore[attr-defined]
            yield from _attached(child, depth + 1)
    elif _name(part) or part.get_content_disposition() == "attachment" or part.get_content_maintype() != "text":
        yield part  # a mail that is one file (no text at all) too


def _name(part: Message) -> str:
    """An attachment's file name as one printable line ("" for none, or one that cannot be read)."""
    from ..printable import printable

    try:
        name = part.get_filename() or ""
    except Exception:  # a parameter the parser kept but cannot decode
        return ""
    return " ".join(printable(name).split())[:200]


def carry_over(draft: EmailMessage, parts: list[Message]) -> None:
    """Attach to the draft each part as it came: its bytes, its type and its name; a mail attached as a
    mail. A part the email package cannot carry so (a bounce's delivery report, message/delivery-status;
    a transfer encoding it cannot undo) goes as the bytes it came as, application/octet-stream."""
    for n, part in enumerate(parts, 1):
        name = _name(part) or f"attachment-{n}"
        try:
            if part.get_content_type() == "message/rfc822":
                draft.add_attachment(part.get_content())  # type: ignore[attr-defined]
                continue
            maintype, subtype = part.get_content_type().split("/", 1)
            payload = part.get_payload(decode=True)
            if maintype != "message" and isinstance(payload, bytes):
                draft.add_attachment(payload, maintype, subtype, filename=name)
                continue
        except Exception:  # a part the parser kept but cannot decode: its bytes below
            pass
        draft.add_attachment(_as_it_came(part), "application", "octet-stream", filename=name)


def _as_it_came(part: Message) -> bytes:
    """A part's body as the mail carried it (its encoding not undone)."""
    try:
        whole = part.as_bytes()
    except Exception:  # headers the generator cannot write again: the text the parser kept
        return str(part.get_payload()).encode("utf-8", "surrogateescape")
    return whole.partition(b"\n\n")[2] or whole
