"""A finished task's mail read again from the person's account, for a correction made after the fact
(`assist classify teach ID R`): a finished task keeps no body (redaction.py), and an example made of its
subject and headers alone teaches the models little.

The mail is looked for where it was left: the folder a route moved it to, then the one it was read from,
then the folders routes file in (the person may have moved it to Junk themselves), in the account it was
read from (mail.account_of: only one of the person's own). It is found by the UID
ingestion noted or by its Message-ID, read as ingestion reads it (its first MAX_MESSAGE_BYTES), and used
only when its bytes are the ones ingestion read (data.sha256): anyone can write a mail with another's
Message-ID, and what a person said of one mail is not learned from another's words.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config


@dataclass
class ReadAgain:
    data: dict[str, Any] | None  # the task's event data with the whole mail read again; None: not found
    said: str  # where it was read ("INBOX"), or why it was not


def body_removed(task: dict[str, Any]) -> bool:
    """A finished mail whose body the record no longer has (redaction.py)."""
    from .task import is_mail

    removed = (task.get("meta") or {}).get("content_removed")
    return is_mail(task) and isinstance(removed, list) and bool({"data.body_text", "data.body_html"} & set(removed))


def folders_to_look_in(task: dict[str, Any]) -> list[str]:
    """Where the mail was left: the folders routes moved it to (the last first), then where it was read."""
    from .task import mail_folder

    moved = []
    for action in task.get("actions") or []:
        if isinstance(action, dict) and action.get("type") == "email.move" and action.get("status") == "done":
            result, args = action.get("result") or {}, action.get("args") or {}
            to = (result.get("to") if isinstance(result, dict) else None) or (
                args.get("to") if isinstance(args, dict) else None)
            if isinstance(to, str) and to:
                moved.append(to)
    return list(dict.fromkeys([*reversed(moved), mail_folder(task)]))


def read_again(config: Config, task: dict[str, Any]) -> ReadAgain:
    """`task`'s mail read again from its account (ReadAgain.data), else why not (a mail read from no IMAP
    account, an account out of reach, a mail moved elsewhere or deleted)."""
    from .errors import AssistError
    from .junk_folder import on_server, route_folders
    from .mail import account_of, imap_reading

    data = task.get("data")
    noted = data.get("imap") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(noted, dict) or not isinstance(data.get("sha256"), str):
        return ReadAgain(None, "it was not read from an IMAP account")
    folders = folders_to_look_in(task)
    try:
        account = account_of(config, noted.get("account"))
        with imap_reading(account, " or ".join(folders)) as conn:
            folders = list(dict.fromkeys([*folders, *on_server(conn, route_folders(config))]))
            for folder in folders:
                raw = _the_same(conn, folder, data)
                if raw is not None:
                    from .ingest.mail import parse_message

                    return ReadAgain({**data, **parse_message(raw), "sha256": data["sha256"]}, folder)
    except AssistError as exc:
        return ReadAgain(None, f"it could not be read again ({exc})")
    return ReadAgain(None, f"it was not found in {' or '.join(folders)} (moved elsewhere or deleted)")


def _the_same(conn: Any, folder: str, data: dict[str, Any]) -> bytes | None:
    """The bytes of the message in `folder` that are the mail ingestion read (data.sha256), else None."""
    from .act.executors.email_imap import find, noted_uid
    from .act.registry import ActionError
    from .junk_folder import as_ingested
    from .mail import imap_folder

    if conn.select(imap_folder(folder), readonly=True)[0] != "OK":
        return None  # no such folder (any more)
    uids = [uid for uid in [noted_uid(conn, folder, data)] if uid is not None]
    message_id = data.get("message_id")
    if isinstance(message_id, str) and message_id:
        with contextlib.suppress(ActionError):  # not a Message-ID's form: only the noted UID
            uids += find(conn, folder, message_id)
    for uid in dict.fromkeys(uids):
        raw = as_ingested(conn, uid)
        if raw is not None and hashlib.sha256(raw).hexdigest() == data["sha256"]:
            return raw
    return None
