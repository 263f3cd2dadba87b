"""Queue backends. `open_backend` picks one from a queue URL: a spool folder (relative ones under the
home), redis://..., or memory://NAME (this process only; see `Config.backend`, which takes the URL from
$ASSIST_QUEUE_URL or queue.url)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Backend
    from .settings import QueueSettings

SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
KNOWN = ("memory://", "redis://", "rediss://", "unix://")


def url_problem(url: str) -> str | None:
    """Why `url` names no queue assist knows, or None: a mistyped redis:// is not a folder's name."""
    if SCHEME.match(url) and not url.startswith(KNOWN):
        from ..printable import without_password

        return (f"{without_password(url)}: of no kind assist knows; a spool folder, redis://HOST:PORT/DB "
                "(rediss://, unix://PATH) or memory://NAME")
    return None


def open_backend(url: str, settings: QueueSettings, home: Path) -> Backend:
    if problem := url_problem(url):
        from ..errors import ConfigError

        raise ConfigError([f"queue URL {problem}"])
    if url.startswith("memory://"):
        from .memory import memory_backend

        return memory_backend(url, settings)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis import RedisBackend
        except ImportError:
            from ..errors import MissingExtra

            raise MissingExtra(f"queue.url {url}: the Redis backend needs the redis extra: "
                               "pip install 'assist[redis]'") from None

        return RedisBackend(url, settings)
    from .spool import Spool

    root = Path(url).expanduser()
    if not root.is_absolute():
        root = home / root
    return Spool(root, settings)
