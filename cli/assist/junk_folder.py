"""What the person moved into Junk themselves, learned as spam (`assist classify junk`).

A mail assist did not file in Junk, found there later, was put there by the person (their mail client's
"this is spam"): its bytes are those of a mail assist classified and left elsewhere (data.sha256 of a
finished task, kept `[queue] keep_done`, 7 days), and assist did not move it there (state/junked). Each
is learned as spam by the spam model alone (decide/learning.py spam_example; a move says spam, not which
route), once. What else is in Junk is not the person's doing and teaches nothing: the spam route's own
filing, and mail the provider filed there before assist saw it.

The folder is read from [actions.imap], read-only: the messages that arrived in the last `keep_done`
(IMAP SEARCH SINCE; a move keeps a message's arrival date), each read as ingestion reads it (its first
MAX_MESSAGE_BYTES) so that its digest is the one ingestion made.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

DEFAULT_FOLDER = "Junk"


def spam_folder(config: Config) -> str:
    """The folder the spam route's email.move files mail in (its fixed `to`), else "Junk"."""
    from .decide.spam_policy import spam_route_name

    route = config.routes.get(spam_route_name(config)) or {}
    for action in route.get("fixed") or []:
        to = (action.get("args") or {}).get("to") if isinstance(action, dict) else None
        if action.get("type") == "email.move" and isinstance(to, str) and to and "{" not in to:
            return to
    return DEFAULT_FOLDER


def left_elsewhere(config: Config) -> set[str]:
    """The digests of the mail classify placed on a route other than spam: from the finished tasks of
    every queue (a finished task keeps no body, its data.sha256 stays)."""
    from .decide.spam_policy import spam_route_name
    from .task import is_mail

    spam_route = spam_route_name(config)
    backend = config.backend()
    found: set[str] = set()
    for name in backend.queues():
        queue = backend.queue(name, create=False)
        for info in queue.list("done"):
            doc = queue.read(info)
            if doc is None:
                continue  # purged since listed
            data, route = doc.get("data"), (doc.get("intent") or {}).get("route")
            if isinstance(data, dict) and isinstance(data.get("sha256"), str) and route and route != spam_route \
                    and is_mail(doc):
                found.add(data["sha256"])
    return found


def learn_from_junk(config: Config, folder: str | None = None) -> tuple[int, int]:
    """Read the Junk folder and learn as spam what the person moved there. Returns (messages read, newly
    learned)."""
    from datetime import date, timedelta

    from .decide.engine import DecisionEngine
    from .decide.learning import Feedback, spam_example
    from .errors import UsageError
    from .ingest.mail import MAX_MESSAGE_BYTES, parse_message
    from .junked import Junked
    from .mail import configured_account, imap_folder, imap_reading

    if not config.action_section("imap").get("host"):
        raise UsageError("no IMAP account to read a Junk folder from: configure [actions.imap] (`assist init`)")
    name = folder or spam_folder(config)
    placed = left_elsewhere(config)
    since = date.fromtimestamp(time.time() - config.queue_settings.keep_done_s) - timedelta(days=1)
    account = configured_account(config)
    moved: list[tuple[str, bytes]] = []
    with imap_reading(account, repr(name)) as conn:
        status, _ = conn.select(imap_folder(name), readonly=True)
        if status != "OK" and folder is None:
            return 0, 0  # no Junk folder yet: nothing was moved there
        if status != "OK":
            raise UsageError(f"no folder {name!r} on {account.host}")
        status, found = conn.uid("SEARCH", "SINCE", since.strftime("%d-%b-%Y"))
        uids = found[0].split() if status == "OK" and found and found[0] else []
        junked = Junked(config.home)
        for uid in uids:
            status, parts = conn.uid("FETCH", uid.decode(), f"(BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None) if status == "OK" else None
            if raw is None:
                continue  # expunged since the search
            digest = hashlib.sha256(raw).hexdigest()
            if digest in placed and not junked.holds(digest):
                moved.append((digest, raw))
    feedback = Feedback(config.home)
    learned = feedback.add_once(*[spam_example({"data": {**parse_message(raw), "sha256": digest}}, True,
                                               "person:into-junk") for digest, raw in moved])
    if learned:
        DecisionEngine(config).model()  # the new version, made now
    return len(uids), learned
