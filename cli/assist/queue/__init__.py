"""Queue backends. `open_backend` picks one from the queue URL: $ASSIST_QUEUE_URL (what --queue-url sets),
else `queue.url` in assist.toml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config
    from .base import Backend


def open_backend(config: Config, url: str | None = None) -> Backend:
    url = url or os.environ.get("ASSIST_QUEUE_URL") or config.queue_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from .redis import RedisBackend
        except ImportError as exc:
            raise ConfigError([f"queue.url {url}: the Redis backend needs the redis package: "
                               f"pip install 'assist[redis]' ({exc})"]) from None
        return RedisBackend(url, config.queue_settings)
    from .spool import Spool

    root = Path(url).expanduser()
    if not root.is_absolute():
        root = config.home / root
    return Spool(root, config.queue_settings)
