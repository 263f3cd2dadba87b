"""Confining paths to the roots the config allows: no `..`, no absolute paths, no symlinks out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .registry import ActionError, Refused

if TYPE_CHECKING:
    from ..config import Config


def root_of(config: Config, section: dict, key: str, name: str | None, what: str) -> Path:
    """The folder an action may touch: `section[key]` is one folder, or a table of named folders (a
    relative one is under the home)."""
    value = section.get(key)
    if not value:
        raise ActionError(f"{what}: no folder is configured (assist.toml [actions.{what}] {key})")
    if isinstance(value, str):
        if name not in (None, "default"):
            raise ActionError(f"{what}: no folder named {name!r} is configured")
        root, said = config.resolve(value).resolve(), key
    else:
        if name is None and len(value) == 1:
            name = next(iter(value))
        if name not in value:
            raise ActionError(f"{what}: no folder named {name!r} is configured (one of: {', '.join(value)})")
        root, said = config.resolve(value[name]).resolve(), f"{key}.{name}"
    if root.exists() and not root.is_dir():
        raise ActionError(f"{what}: {root} is not a folder ([actions.{what}] {said})")
    return root


def confine(relative: str, root: Path) -> Path:
    """The path `relative` under root, refusing anything that would leave it."""
    if not relative or relative.startswith(("/", "~")) or os.path.isabs(relative):
        raise Refused(f"path {relative!r}: must be relative to an allowed folder")
    if any(part == ".." for part in Path(relative).parts):
        raise Refused(f"path {relative!r}: '..' is not allowed")
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise Refused(f"path {relative!r}: leads outside {root} (a symlink?)")
    return target
