"""Where assist keeps its files (docs/configuration.md).

$ASSIST_HOME is `--home`, else the ASSIST_HOME environment variable, else the nearest folder upward from
the working directory that holds `assist.toml`, else the user data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_NAME = "assist.toml"


def find_home(start: Path | None = None) -> Path:
    env = os.environ.get("ASSIST_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return default_home()


def default_home() -> Path:
    """The user data folder: $XDG_DATA_HOME/assist (~/.local/share/assist) on Linux, the platform's
    own elsewhere."""
    import sys

    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return Path(base) / "assist"
    import platformdirs

    return Path(platformdirs.user_data_dir("assist", appauthor=False))


def ensure(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path


def user_config_dir() -> Path:
    """$XDG_CONFIG_HOME, else ~/.config (where systemd looks for user units)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"))
