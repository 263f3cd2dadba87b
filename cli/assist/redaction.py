"""What a finished task keeps: the message content is removed when a task reaches done/.

A task carries the event's content (an email's body, a file's text), the prompt built from it and the
model's reply while it is being worked on: in new/, cur/, hold/ (a person decides on it) and failed/
(it can be retried). Once it is finished, the spool is a record of what happened, not a second copy of
the mailbox: these fields are dropped from the copy kept in done/ (and the task notes which were
dropped), unless `[queue] keep_content = true`.
"""

from __future__ import annotations

from typing import Any

# "actions.args.NAME": that argument of every action. The texts actions carried (a drafted reply, a note
# or a file of the mail, an event's description) are the mail's content in other words, or the mail itself
# when a route's template puts its body there; where they went (to, subject, path, note) is kept.
ACTION_ARGS = "actions.args."
CONTENT_FIELDS = ("data.body_text", "data.body_html", "data.text", "data.found_says", "data.answer", "data.reply",
                  "prompt.messages", "result.text", "result.parsed", "result.ungrounded", "actions.args.body",
                  "actions.args.text", "actions.args.content", "actions.args.description")


def without_content(doc: dict[str, Any], fields: tuple[str, ...] | list[str] = CONTENT_FIELDS
                    ) -> dict[str, Any] | None:
    """A copy of `doc` without the content fields it holds, or None when it holds none of them."""
    present = [f for f in fields if _has(doc, f)]
    if not present:
        return None
    copy = dict(doc)
    for field in present:
        if field.startswith(ACTION_ARGS):
            name = field[len(ACTION_ARGS):]
            copy["actions"] = [{**a, "args": {k: v for k, v in a["args"].items() if k != name}}
                               if _args(a) is not None else a for a in copy["actions"]]
            continue
        section, _, key = field.partition(".")
        inner = dict(copy[section])
        del inner[key]
        copy[section] = inner
    copy["meta"] = {**copy.get("meta", {}), "content_removed": present}
    return copy


def _args(action: Any) -> dict[str, Any] | None:
    args = action.get("args") if isinstance(action, dict) else None
    return args if isinstance(args, dict) else None


def _has(doc: dict[str, Any], field: str) -> bool:
    if field.startswith(ACTION_ARGS):
        actions = doc.get("actions")
        name = field[len(ACTION_ARGS):]
        return isinstance(actions, list) and any(name in (_args(a) or {}) for a in actions)
    section, _, key = field.partition(".")
    inner = doc.get(section)
    return isinstance(inner, dict) and key in inner
