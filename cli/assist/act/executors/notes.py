"""notes.create and notes.append: a folder of Markdown notes with front matter (an Obsidian-style vault)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ...fileutil import append_lines, write_new
from ...printable import BIDI_CONTROLS
from ...timeutil import rfc3339
from ..paths import confine, root_of
from ..registry import ActionContext, ActionError, executor
from ._io import one_at_a_time

# What would load something from elsewhere when a note is shown (Obsidian and Markdown viewers load remote
# images, as mail clients do not): an image, inline or by reference, and raw HTML (a tag, a comment). A
# note's words come from mail and from models that read it, so each is escaped with a backslash and shows
# as the text it is (a link too: LINK_SIGNS below), and a link to another note of the vault (`![[Budget]]`)
# stays. Backslashes just before are doubled, so `\![x](...)` cannot undo it.
LOADS = re.compile(r"(?<!\\)(\\*)(!(?=\[)(?!\[\[[^\[\]\n\\]*\]\](?!\())|<(?=[A-Za-z/!?])|`)")
# What plugins of a vault run when a note is shown or made: Dataview (its JavaScript queries turned on, as
# many do) runs a code span starting `$=` and a ```dataviewjs block, Templater ("trigger on new file
# creation") a <% ... %> tag, with Node's child_process at hand. So a backtick is escaped too (in LOADS:
# no code span or fence forms), a fence of tildes at a line's start is broken, and "<%" is written
# "&lt;%"; each shows as the text it is.
TILDE_FENCE = re.compile(r"^( {0,3})(?=~~~)", re.MULTILINE)
# A link whose words name another place than it goes to ("[paypal.com](https://evil.example/)") is text
# in a mail client's subject, and a link in a note the person reads as their assistant's. Where a mail's
# or a model's words could make a link (an inline one, a reference, a definition: "](", "][", "]:"), each
# "[" is escaped, but a wiki link's to another note of the vault ([[Budget]]): the link shows as the text
# it is, where it goes included. A subject in brackets ("[ILUG] ...") makes no link and stays as it is.
LINK_SIGNS = re.compile(r"\]\s*[(\[:]")
# a wiki link's name has no backslash ("\]" is no end); a run of backslashes is read from its first only, in
# LOADS too (from each of its backslashes again, a mebibyte of them was hours of work)
BRACKET = re.compile(r"\[\[[^\[\]\n\\]*\]\](?!\()|(?<!\\)(\\*)\[")


NO_DIRECTION_CONTROLS = dict.fromkeys(map(ord, BIDI_CONTROLS))


def inert(text: str) -> str:
    """Markdown that shows as it did but loads and runs nothing (LOADS, TILDE_FENCE), makes no link that
    hides where it goes (LINK_SIGNS), and without direction controls: an override in a subject would turn
    the rest of its line around as it is shown (the sender after it)."""
    escaped = LOADS.sub(lambda m: m[1] * 2 + "\\" + m[2], text.translate(NO_DIRECTION_CONTROLS))
    if LINK_SIGNS.search(escaped):
        escaped = BRACKET.sub(lambda m: m[0] if m[1] is None else m[1] * 2 + "\\[", escaped)
    return TILDE_FENCE.sub(r"\1\\", escaped).replace("<%", "&lt;%")


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w\- ]+", "", title).strip().replace(" ", "-")
    return slug[:80] or "note"


def _yaml_text(text: str) -> str:
    """`text` as one single-quoted YAML scalar on one line: line breaks (any kind) as spaces, control
    characters left out (YAML allows none), a quote doubled, and "<%" as "< %" (a Templater tag: see
    TILDE_FENCE; a property is not Markdown, so not "&lt;"). A title comes from a model that read a mail."""
    one_line = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", " ".join(text.split())).translate(NO_DIRECTION_CONTROLS)
    return "'" + one_line.replace("'", "''").replace("<%", "< %") + "'"


def _front_matter(title: str, ctx: ActionContext, tags: list[str]) -> str:
    lines = ["---", f"title: {_yaml_text(title)}", f"created: {rfc3339()}", f"source: assist task {ctx.task.get('id')}"]
    if tags:
        lines.append("tags: [" + ", ".join(tags) + "]")
    return "\n".join([*lines, "---", ""]) + "\n"


@executor("notes.create", {
    "required": ["title", "body"],
    "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 200},
                   "body": {"type": "string", "maxLength": 1_000_000},
                   "folder": {"type": "string", "maxLength": 200},
                   "tags": {"type": "array", "items": {"type": "string", "pattern": "^[\\w/-]+$"}, "maxItems": 20}},
}, repeatable=True)
def create(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """The note is marked with the action's key, as notes.append marks its block: a run cut short after
    writing it (ctx.resumed) finds it among the notes of its name, rather than writing "NAME 2.md"."""
    vault = root_of(ctx.config, ctx.section("notes"), "vault", None, "notes")
    folder = args.get("folder", "")
    base = f"{folder}/{_slug(args['title'])}" if folder else _slug(args["title"])
    marker = f"<!-- assist:{ctx.key} -->"
    content = (_front_matter(args["title"], ctx, args.get("tags", [])) + inert(args["body"].rstrip())
               + f"\n{marker}\n").encode()
    path, n = confine(f"{base}.md", vault), 2
    path.parent.mkdir(parents=True, exist_ok=True)
    while not write_new(path, content):  # never overwrite a note, another worker's new one included
        if ctx.resumed and _holds(path, marker):
            return {"path": str(path.relative_to(vault)), "already": True}
        path = confine(f"{base} {n}.md", vault)
        n += 1
    return {"path": str(path.relative_to(vault))}


def _holds(path: Path, marker: str) -> bool:
    try:
        return path.is_file() and marker.encode() in path.read_bytes()
    except OSError:
        return False


@executor("notes.append", {
    "required": ["note", "text"],
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 300},
                   "text": {"type": "string", "maxLength": 1_000_000},
                   "heading": {"type": "string", "maxLength": 200},
                   "daily": {"type": "boolean"}},
}, repeatable=True)
def append(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """`daily`: entries grouped under a heading for the day each is written ("## 2026-12-05", this
    machine's local date), made by the first entry of the day. Decided when the entry is written, not
    in the arguments, whose idempotency key would then change with the day of a retry."""
    vault = root_of(ctx.config, ctx.section("notes"), "vault", None, "notes")
    name = args["note"] if args["note"].endswith(".md") else f"{args['note']}.md"
    path = confine(name, vault)
    shown = str(path.relative_to(vault))
    marker = f"<!-- assist:{ctx.key} -->"
    block = (f"\n## {inert(args['heading'])}\n\n" if args.get("heading") else "\n") + inert(args["text"].rstrip()) + \
        f"\n{marker}\n"
    day = f"\n## {time.strftime('%Y-%m-%d')}\n" if args.get("daily") else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    # one append at a time (workers act on several tasks at once, and most append to the same notes);
    # the block is added to the end of the file, so what the person wrote meanwhile stays
    with one_at_a_time(ctx, "notes"):
        if not path.exists() and write_new(path, (_front_matter(path.stem, ctx, []) + day + block).encode()):
            return {"path": shown}
        if not path.is_file():  # a folder, or a named pipe whose reading would wait forever
            raise ActionError(f"{args['note']}: exists and is not a note file")
        with open(path, "a+b") as handle:
            handle.seek(0)
            written = handle.read()
            if marker.encode() in written:  # appended before a crash, not yet journaled: not twice
                return {"path": shown, "already": True}
            if day and day.encode() not in written:
                block = day + block
            append_lines(handle, block.encode())
    return {"path": shown}
