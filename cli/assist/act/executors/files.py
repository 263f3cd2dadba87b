"""file.write, file.move, file.copy, file.trash: only under the configured roots; nothing is unlinked.

An overwritten or trashed file goes to the trash folder (`[actions.files] trash`, default
$ASSIST_HOME/trash) with a line in its `manifest.jsonl` saying where it came from, so it can be restored.
"""

from __future__ import annotations

import errno
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
    if src.is_symlink() or dest.is_symlink():
        raise ActionError("symlinks are not moved or copied")
    return src, dest


def _ready(src: Path, dest: Path, args: dict[str, Any]) -> None:
    if not src.exists():
        raise ActionError(f"{args['src']}: no such file")
    if dest.exists():
        raise ActionError(f"{args['dest']}: exists already")
    dest.parent.mkdir(parents=True, exist_ok=True)


def _same(a: Path, b: Path) -> bool:
    """Whether two files, or two folders with everything in them, hold the same."""
    import filecmp

    if a.is_file() and b.is_file():
        return filecmp.cmp(a, b, shallow=False)
    if not (a.is_dir() and b.is_dir()):
        return False
    compared = filecmp.dircmp(a, b)
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    return not (compared.left_only or compared.right_only or compared.common_funny or mismatch or errors) and \
        all(_same(a / sub, b / sub) for sub in compared.common_dirs)


def _copy_into_place(src: Path, dest: Path, ctx: ActionContext) -> None:
    """Copy src (a file, or a folder and all in it) to dest whole: written under a temporary name beside
    it, named after the action's key (a part a crash left is this action's own, thrown away first), then
    renamed. A dest that appeared meanwhile is not replaced."""
    part = dest.with_name(f".{dest.name}.{ctx.key[:12]}.assist-part")
    _discard(part)
    if src.is_dir():
        shutil.copytree(src, part, symlinks=True)
    else:
        shutil.copy2(src, part)
    if dest.exists():
        _discard(part)
        raise ActionError(f"{dest.name}: exists already (made while it was copied)")
    part.rename(dest)


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


MOVE_SCHEMA = {"required": ["src", "dest"], "properties": {"root": ROOT, "dest_root": ROOT, "src": PATH, "dest": PATH}}


@executor("file.move", MOVE_SCHEMA, repeatable=True)
def move(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """A rename on one file system; between two, a copy put in place whole, then the original removed.
    Run again after a crash (ctx.resumed), what the dead run did is found: the move done (dest there, src
    gone), or its copy made and the original not yet removed (the two the same): the original goes."""
    src, dest = _two_paths(args, ctx)
    if ctx.resumed and dest.exists() and (not src.exists() or _same(src, dest)):
        _discard(src)
        return {"path": str(dest), "already": True}
    _ready(src, dest, args)
    try:
        src.rename(dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_into_place(src, dest, ctx)
        _discard(src)
    return {"path": str(dest)}


@executor("file.copy", MOVE_SCHEMA, repeatable=True)
def copy(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Put in place whole (_copy_into_place); run again after a crash, a copy already there and the same
    as the original is done."""
    src, dest = _two_paths(args, ctx)
    if ctx.resumed and dest.exists() and _same(src, dest):
        return {"path": str(dest), "already": True}
    _ready(src, dest, args)
    _copy_into_place(src, dest, ctx)
    return {"path": str(dest)}


@executor("file.trash", {"required": ["path"], "properties": {"root": ROOT, "path": PATH}},
          repeatable=True)
def trash(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    path = confine(args["path"], _root(ctx, args.get("root")))
    if not path.exists():
        raise ActionError(f"{args['path']}: no such file")
    return {"kept": _to_trash(path, ctx)}
