"""What the person moved, in their mail client, into a folder a route files mail in, learned as that
route (`assist classify junk`): into Junk, as spam; into Lists, as the route that files mail there
(the shipped `newsletter`).

A mail assist did not file in such a folder, found there later, was put there by the person: its bytes
are those of a mail assist classified and placed on another route (data.sha256 of a finished task, kept
`[queue] keep_done`, 7 days), and assist did not move it there (state/junked, state/filed); only the
messages whose Message-ID is one of those are fetched whole. Each is learned once: into Junk by the spam
model alone (decide/learning.py spam_example; a move says spam, not which route), into another route's
folder as an example of that route (the intent model learns it, and the spam model learns it as not
spam). What else is in those folders is not the person's doing and teaches nothing: the routes' own
filing, and mail there before assist saw it.

The folders are read in each of the person's accounts ([actions.imap], [actions.imap.accounts.NAME]),
read-only: the messages that arrived in the last `keep_done`
(IMAP SEARCH SINCE; a move keeps a message's arrival date), each read as ingestion reads it (its first
MAX_MESSAGE_BYTES) so that its digest is the one ingestion made. A folder two routes file in teaches
nothing (which route the person meant cannot be told), nor one assist reads new mail from (the inbox).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .errors import AssistError

DEFAULT_FOLDER = "Junk"


def filed_in(route: dict[str, Any]) -> str | None:
    """The one folder a route's fixed email.move files mail in (None: none, or one a template chooses)."""
    for action in route.get("fixed") or []:
        to = (action.get("args") or {}).get("to") if isinstance(action, dict) else None
        if action.get("type") == "email.move" and isinstance(to, str) and to and "{" not in to:
            return to
    return None


def route_folders(config: Config, junk: str | None = None) -> dict[str, str]:
    """{folder: route} of the routes that file mail in a folder of their own: the spam route's (`junk`,
    else its email.move's folder, else "Junk") and every other route's fixed email.move."""
    from .decide.spam_policy import spam_route_name

    spam_route = spam_route_name(config)
    found: dict[str, list[str]] = {}
    for name, route in config.routes.items():
        folder = filed_in(route) if name != spam_route else (junk or filed_in(route) or DEFAULT_FOLDER)
        if folder:
            found.setdefault(folder, []).append(name)
    return {folder: names[0] for folder, names in found.items() if len(names) == 1}


def on_server(conn: Any, folders: dict[str, str], as_named: str | None = None) -> dict[str, str]:
    """`folders` ({name: route}) by the names the server has for them: a route's "Junk" is the folder it
    marks \\Junk where it has no "Junk" (Gmail's "[Gmail]/Spam": mail.folder_on_server); `as_named` is
    taken as it is (a folder named on the command line). A folder not made yet is left out, and so is one
    two routes' names come to."""
    from .mail import folder_on_server

    found: dict[str, list[str]] = {}
    for name, route in folders.items():
        there = name if name == as_named else folder_on_server(conn, name)
        if there is not None:
            found.setdefault(there, []).append(route)
    return {there: routes[0] for there, routes in found.items() if len(set(routes)) == 1}


@dataclass
class Placed:
    """What classify did with the mail of the last `keep_done`, from the finished tasks of every queue (a
    finished task keeps no body; its data.sha256 and message_id stay)."""
    routes: dict[str, str]  # data.sha256 -> route
    ids: dict[str, set[str]]  # data.message_id -> the routes mail with it was given
    read_from: set[str]  # the IMAP folders that mail was read from


def placed(config: Config) -> Placed:
    from .task import is_mail

    backend = config.backend()
    found = Placed({}, {}, set())
    for name in backend.queues():
        queue = backend.queue(name, create=False)
        for info in queue.list("done"):
            doc = queue.read(info)
            if doc is None:
                continue  # purged since listed
            data, route = doc.get("data"), (doc.get("intent") or {}).get("route")
            if isinstance(data, dict) and isinstance(data.get("sha256"), str) and isinstance(route, str) \
                    and is_mail(doc):
                found.routes[data["sha256"]] = route
                if isinstance(data.get("message_id"), str):
                    found.ids.setdefault(data["message_id"], set()).add(route)
                imap = data.get("imap")
                if isinstance(imap, dict) and isinstance(imap.get("folder"), str):
                    found.read_from.add(imap["folder"])
    return found


@dataclass
class FolderMoves:
    """What the person's moves into one folder taught."""
    folder: str
    route: str
    spam: bool  # the spam route's folder: learned as spam by the spam model alone
    read: int
    learned: int
    account: str = ""  # the NAME of [actions.imap.accounts.NAME]; "" for [actions.imap]


def learn_from_junk(config: Config, folder: str | None = None,
                    account: str | None = None) -> tuple[list[FolderMoves], list[AssistError]]:
    """Read the folders routes file mail in (route_folders; `folder`: the Junk folder's name), in each of
    the person's accounts (`account`: the one so named, "" [actions.imap]'s), and learn what the person
    moved there: (one FolderMoves a folder there is, the faults of the accounts that could not be read).
    A folder not made yet is skipped, unless it is the Junk folder asked for by name."""
    from datetime import date, timedelta

    from .decide.engine import DecisionEngine
    from .decide.learning import Feedback
    from .decide.spam_policy import spam_route_name
    from .errors import AssistError, UsageError
    from .mail import accounts_to_read, imap_reading

    accounts = accounts_to_read(config, account, folder, "a Junk folder")
    spam_route = spam_route_name(config)
    folders = route_folders(config, folder)
    if folder is not None and spam_route not in config.routes:
        raise UsageError(f"--folder {folder!r} names the Junk folder, and this home has no spam route "
                         "([classify] spam_route)")
    if folder is not None and folders.get(folder) != spam_route:
        raise UsageError(f"--folder {folder!r}: another route files mail there too, so which one you meant "
                         "cannot be told")
    done = placed(config)
    folders = {name: route for name, route in folders.items() if name not in done.read_from}  # the inbox's
    # mail is where ingestion found it, not where the person moved it (a route may move mail to the inbox)
    since = date.fromtimestamp(time.time() - config.queue_settings.keep_done_s) - timedelta(days=1)
    engine = DecisionEngine(config)
    feedback = Feedback(config.home)
    out: list[FolderMoves] = []
    faults: list[AssistError] = []
    for each in accounts:
        try:
            with imap_reading(each, repr(sorted(folders))) as conn:
                for name, route in on_server(conn, folders, folder).items():
                    found = _moved_there(conn, name, route, route == spam_route, done, since, config)
                    if found is None:
                        if name == folder:
                            raise UsageError(f"no folder {name!r} on {each.host}")
                        continue  # not made yet: nothing was moved there
                    read, moved = found
                    out.append(FolderMoves(name, route, route == spam_route, read, feedback.add_once(*[
                        moved_example(engine, {"type": "email.received", "data": data}, route, name,
                                      route == spam_route) for data in moved]), each.label))
        except UsageError:
            raise  # the folder named on the command line is not there
        except AssistError as exc:  # out of reach, a sign-in refused: the other accounts are read
            faults.append(exc)
    if any(each.learned for each in out):
        engine.model()  # the new version, made now
    return out, faults


def _moved_there(conn: Any, folder: str, route: str, spam: bool, done: Placed, since: Any,
                 config: Config) -> tuple[int, list[dict[str, Any]]] | None:
    """(messages read in `folder`, the event data of those the person moved there); None: no such folder.
    Only the messages whose Message-ID is one of mail classify placed on another route (or that have
    none) are fetched whole: a week of a list's mail is not downloaded every day."""
    from .filed import Filed
    from .ingest.mail import parse_message
    from .junked import Junked
    from .mail import imap_folder

    status, _ = conn.select(imap_folder(folder), readonly=True)
    if status != "OK":
        return None
    status, found = conn.uid("SEARCH", "SINCE", since.strftime("%d-%b-%Y"))
    uids = found[0].split() if status == "OK" and found and found[0] else []
    wanted = {mid for mid, routes in done.ids.items() if routes - {route}}
    junked, filed = Junked(config.home), Filed(config.home)
    moved = []
    for uid in _with_ids(conn, uids, wanted):
        raw = as_ingested(conn, uid)
        if raw is None:
            continue  # expunged since the search
        digest = hashlib.sha256(raw).hexdigest()
        if digest not in done.routes or done.routes[digest] == route:
            continue  # assist never saw it, or placed it on this very route
        if junked.holds(digest) if spam else filed.moved_by(digest, [route]):
            continue  # assist moved it there (it came back, and the person moved it there again)
        moved.append({**parse_message(raw), "sha256": digest})
    return len(uids), moved


def as_ingested(conn: Any, uid: bytes) -> bytes | None:
    """A message of the selected folder read as ingestion reads it (its first MAX_MESSAGE_BYTES, so that its
    digest is the one ingestion made, data.sha256), unread; None when it is gone."""
    from .ingest.mail import MAX_MESSAGE_BYTES

    status, parts = conn.uid("FETCH", uid.decode(), f"(BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
    return next((p[1] for p in parts or [] if isinstance(p, tuple)), None) if status == "OK" else None


def _with_ids(conn: Any, uids: list[bytes], wanted: set[str]) -> list[bytes]:
    """The UIDs whose message has a Message-ID in `wanted`, or none at all (asked for in batches of
    headers only)."""
    import re
    from email.parser import BytesHeaderParser

    from .correspondents import FETCH_BATCH
    from .ingest.mail import MAX_HEADER
    from .message_id import message_id

    out = []
    for start in range(0, len(uids), FETCH_BATCH):
        batch = b",".join(uids[start:start + FETCH_BATCH]).decode()
        status, parts = conn.uid("FETCH", batch, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for part in parts if status == "OK" else []:
            found = re.search(rb"UID (\d+)", part[0]) if isinstance(part, tuple) else None
            if found is None:
                continue
            value = BytesHeaderParser().parsebytes(part[1]).get("message-id")
            if value is None or message_id(" ".join(str(value).split())[:MAX_HEADER]) in wanted:  # as ingested
                out.append(found.group(1))
    return out


def moved_example(engine: Any, task: dict[str, Any], route: str, folder: str, spam: bool) -> dict[str, Any]:
    """What a mail the person moved into `folder` teaches: spam (into Junk), else `route`."""
    from .decide.learning import example, spam_example

    if spam:
        return spam_example(task, True, "person:into-junk")
    entry = example(task, route, f"person:into:{folder}", engine.embedder(),
                    bool(engine.settings.get("learn_text", False)))
    entry["id"] = f"into:{route}:{task['data']['sha256']}"
    return entry
