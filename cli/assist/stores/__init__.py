"""The stores that make actions safe and limits shared (stores/base.py): local to the home on one machine,
in the queue's Redis when the queue is on Redis, so that workers on several machines share one journal,
one set of approvals, one bucket per limit, one alert budget and one record of the models' health."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import base

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class Stores:
    journal: base.Journal
    approvals: base.Approvals
    limits: base.Limits
    alerts: base.AlertBudget
    health: base.Health
    where: str  # "local" or the Redis URL


_opened: dict[tuple[str, str], Stores] = {}
_lock = threading.Lock()


def open_stores(config: Config) -> Stores:
    """The home's stores: in the queue's Redis when queue.url (or $ASSIST_QUEUE_URL) is redis://, else
    local. One set per process and place."""
    url = os.environ.get("ASSIST_QUEUE_URL") or config.queue_url
    shared = url.startswith(("redis://", "rediss://", "unix://"))
    key = (str(config.home), url if shared else "local")
    with _lock:
        stores = _opened.get(key)
        if stores is None:
            stores = _opened[key] = _redis(url) if shared else _local(config)
        return stores


def _local(config: Config) -> Stores:
    from . import local

    home = config.home
    return Stores(local.Journal(home), local.Approvals(home), local.Limits(home), local.AlertBudget(home),
                  local.Health(home), "local")


def _redis(url: str) -> Stores:
    from . import redis as shared

    client = shared._Client(url)
    return Stores(shared.Journal(client), shared.Approvals(client), shared.Limits(client),
                  shared.AlertBudget(client), shared.Health(client), url)
