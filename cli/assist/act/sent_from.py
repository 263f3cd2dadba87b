"""Where a person approves a send, which of their addresses it goes out from: said only when they have
more than one account (`[actions.imap.accounts]`), and cheap to ask when they have one: the executors are
imported only then (`assist queue ls` and `assist top` start without them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config


def told_from(config: Config) -> Callable[[dict[str, Any], str], str | None] | None:
    """What to tell the person, for an action of a task waiting for them, of the address it goes out from
    (email_smtp.goes_out_from; None for an action that sends nothing); None with one account, whose address
    is the only one a send can go from (queue/admin.py awaiting)."""
    if not config.action_section("imap").get("accounts"):
        return None
    from .executors.email_smtp import SENDS, goes_out_from

    return lambda task, kind: goes_out_from(config, task) if kind in SENDS else None
