"""file.write, file.move, file.copy, file.trash: only under the configured roots; nothing is unlinked.

An overwritten or trashed file goes to the trash folder (`[actions.files] trash`, default
$ASSIST_HOME/trash) with a line in its `manifest.jsonl` saying where it came from, so it can be restored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ..paths import confine, root_of
from ..registry import ActionContext, ActionError, executor
from ._io import write_atomic

ROOT = {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"}
PATH = {"type": "string", "minLength": 1, "maxLength": 500}


def _root(ctx: ActionContext, name: str | None) -> Path:
    return root_of(ctx.config, ctx.section("files"), "roots", name, "files")


def _to_trash(path: Path, ctx: ActionContext) -> str:
    import orjson
    from filelock import FileLock

    from ...fileutil import append_lines

    trash = ctx.config.resolve(ctx.section("files").get("trash", "trash"))
    trash.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept = trash / f"{time.strftime('%Y%m%dT%H%M%S')}-{ctx.key[:8]}-{path.name}"
    shutil.move(str(path), kept)
    with FileLock(str(trash / "manifest.jsonl.lock")), open(trash / "manifest.jsonl", "a+b") as manifest:
        append_lines(manifest, orjson.dumps({"kept": kept.name, "from": str(path), "at": time.time(),
                                             "task": ctx.task.get("id")}) + b"\n")
    return kept.name


@executor("file.write", {
    "required": ["path", "content"],
    "properties": {"root": ROOT, "path": PATH, "content": {"type": "string", "maxLength": 10_000_000},
                   "overwrite": {"type": "boolean"}},
}, repeatable=True)
def write(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    path = confine(args["path"], _root(ctx, args.get("root")))
    trashed = None
    if path.exists():
        if not path.is_file():  # a folder, or a named pipe whose reading would wait forever
            raise ActionError(f"{args['path']}: exists and is not a file")
        if path.read_text(errors="replace") == args["content"]:
            return {"path": str(path), "unchanged": True}
        if not args.get("overwrite"):
            raise ActionError(f"{args['path']}: exists (set overwrite to replace it; the old one is kept in the trash)")
        trashed = _to_trash(path, ctx)
    write_atomic(path, args["content"].encode())
    return {"path": str(path), **({"previous_in_trash": trashed} if trashed else {})}


def _two_paths(args: dict[str, Any], ctx: ActionContext) -> tuple[Path, Path]:
    src = confine(args["src"], _root(ctx, args.get("root")))
    dest = confine(args["dest"], _root(ctx, args.get("dest_root", args.get("root"))))
    if not src.exists():
        raise ActionError(f"{args['src']}: no such file")
    if src.is_symlink() or dest.is_symlink():
        raise ActionError("symlinks are not moved or copied")
    if dest.exists():
        raise ActionError(f"{args['dest']}: exists already")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return src, dest


MOVE_SCHEMA = {"required": ["src", "dest"], "properties": {"root": ROOT, "dest_root": ROOT, "src": PATH, "dest": PATH}}


@executor("file.move", MOVE_SCHEMA)
def move(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    src, dest = _two_paths(args, ctx)
    shutil.move(str(src), dest)
    return {"path": str(dest)}


@executor("file.copy", MOVE_SCHEMA)
def copy(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    src, dest = _two_paths(args, ctx)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        shutil.copy2(src, dest)
    return {"path": str(dest)}


@executor("file.trash", {"required": ["path"], "properties": {"root": ROOT, "path": PATH}},
          repeatable=True)
def trash(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    path = confine(args["path"], _root(ctx, args.get("root")))
    if not path.exists():
        raise ActionError(f"{args['path']}: no such file")
    return {"kept": _to_trash(path, ctx)}
