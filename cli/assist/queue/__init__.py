"""Queue backends. `open_backend` picks one from the config's queue URL (or --queue-url)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config
    from .base import Backend


def open_backend(config: Config, url: str | None = None) -> Backend:
    url = url or config.queue_url
    if url.startswith("redis://") or url.startswith("rediss://"):
        raise ConfigError([f"{config.path or 'queue.url'}: queue.url: the Redis backend is not built yet ({url})"])
    from .spool import Spool

    root = Path(url).expanduser()
    if not root.is_absolute():
        root = config.home / root
    return Spool(root, config.queue_settings)
