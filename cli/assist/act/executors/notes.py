"""notes.create and notes.append: a folder of Markdown notes with front matter (an Obsidian-style vault)."""

from __future__ import annotations

import re
from typing import Any

from ...timeutil import rfc3339
from ..paths import confine, root_of
from ..registry import ActionContext, executor
from ._io import write_atomic


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w\- ]+", "", title).strip().replace(" ", "-")
    return slug[:80] or "note"


def _yaml_text(text: str) -> str:
    """`text` as one single-quoted YAML scalar on one line: line breaks (any kind) as spaces, control
    characters left out (YAML allows none), a quote doubled. A title comes from a model that read a mail."""
    one_line = re.sub(r"[\x00-\x1f\x7f-\x9f]", "", " ".join(text.split()))
    return "'" + one_line.replace("'", "''") + "'"


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
})
def create(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    vault = root_of(ctx.config, ctx.section("notes"), "vault", None, "notes")
    folder = args.get("folder", "")
    base = f"{folder}/{_slug(args['title'])}" if folder else _slug(args["title"])
    path = confine(f"{base}.md", vault)
    n = 2
    while path.exists():  # never overwrite a note: a new name instead
        path = confine(f"{base} {n}.md", vault)
        n += 1
    content = _front_matter(args["title"], ctx, args.get("tags", [])) + args["body"].rstrip() + "\n"
    write_atomic(path, content.encode())
    return {"path": str(path.relative_to(vault))}


@executor("notes.append", {
    "required": ["note", "text"],
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 300},
                   "text": {"type": "string", "maxLength": 1_000_000},
                   "heading": {"type": "string", "maxLength": 200}},
}, repeatable=True)
def append(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    vault = root_of(ctx.config, ctx.section("notes"), "vault", None, "notes")
    name = args["note"] if args["note"].endswith(".md") else f"{args['note']}.md"
    path = confine(name, vault)
    marker = f"<!-- assist:{ctx.key} -->"
    existing = path.read_text() if path.exists() else _front_matter(path.stem, ctx, [])
    if marker in existing:  # appended before a crash, not yet journaled: do not append twice
        return {"path": str(path.relative_to(vault)), "already": True}
    block = (f"\n## {args['heading']}\n\n" if args.get("heading") else "\n") + args["text"].rstrip() + f"\n{marker}\n"
    write_atomic(path, (existing.rstrip("\n") + "\n" + block).encode())
    return {"path": str(path.relative_to(vault))}
