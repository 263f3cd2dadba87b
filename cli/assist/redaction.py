"""What a finished task keeps: the message content is removed when a task reaches done/.

A task carries the event's content (an email's body, a file's text), the prompt built from it and the
model's reply while it is being worked on: in new/, cur/, hold/ (a person decides on it) and failed/
(it can be retried). Once it is finished, the spool is a record of what happened, not a second copy of
the mailbox: these fields are dropped from the copy kept in done/ (and the task notes which were
dropped), unless `[queue] keep_content = true`.
"""

from __future__ import annotations

from typing import Any

CONTENT_FIELDS = ("data.body_text", "data.body_html", "data.text", "prompt.messages", "result.text",
                  "result.parsed", "result.ungrounded")


def without_content(doc: dict[str, Any], fields: tuple[str, ...] | list[str] = CONTENT_FIELDS
                    ) -> dict[str, Any] | None:
    """A copy of `doc` without the content fields it holds, or None when it holds none of them."""
    present = [f for f in fields if _has(doc, f)]
    if not present:
        return None
    copy = dict(doc)
    for field in present:
        section, _, key = field.partition(".")
        inner = dict(copy[section])
        del inner[key]
        copy[section] = inner
    copy["meta"] = {**copy.get("meta", {}), "content_removed": present}
    return copy


def _has(doc: dict[str, Any], field: str) -> bool:
    section, _, key = field.partition(".")
    inner = doc.get(section)
    return isinstance(inner, dict) and key in inner
