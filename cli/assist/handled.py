"""Held mail the person handled in their mail client meanwhile (`assist queue tidy`).

A held task is a question to the person; they may answer it elsewhere first, on their phone. Each held
mail (an `email.*` task with the UID ingestion noted, `data.imap`) is looked at on the server:

- gone from its folder (a folder never gives a UID twice under one UIDVALIDITY) and found in the folder
  a route files in (act/executors/email_imap.py's fixed email.move, junk_folder.route_folders), for a
  mail no route was sure of: approved on that route, as if the person had chosen it in `assist top`
  (and so learned from, decide/learning.py); the route's own move then finds it there already. For a
  mail held with another route (its actions wait for approval): closed, and learned as `assist
  classify junk` learns a move into that folder (spam into Junk, else that route);
- gone otherwise (deleted, archived, filed elsewhere), or answered (a message in Sent whose In-Reply-To
  is its Message-ID): closed, with why (`meta.last_error` "rejected: handled in your mail client: ..."),
  learning nothing: a deleted mail says nothing of a route;
- still there, unanswered, or read under another UIDVALIDITY (nothing can tell): left waiting.

Each held mail is looked at in the account it was read from (data.imap.account: [actions.imap] or one of
[actions.imap.accounts], mail.account_of); one read from an account not configured is left waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .decide.engine import DecisionEngine
    from .errors import AssistError
    from .mail import ImapAccount
    from .queue.base import Backend

BY = "mail-client"  # who decided, in the approval records


@dataclass
class Handled:
    queue: str
    id: str
    about: str
    verb: str  # "approve" (route) or "reject" (closed)
    why: str
    route: str | None = None  # approved on it
    learned: dict[str, Any] | None = None  # closed, and this example learned (the folder it was moved into)


def held_mail(backend: Backend, queues: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(queue, document) of each held mail whose UID ingestion noted."""
    from .errors import AssistError

    found = []
    for name in queues:
        q = backend.queue(name, create=False)
        for info in q.list("hold"):
            try:
                _, doc = q.get(info.id)
            except (AssistError, OSError):  # moved on meanwhile: not a question now
                continue
            data = doc.get("data")
            if str(doc.get("type", "")).startswith("email.") and isinstance(data, dict) \
                    and isinstance(data.get("imap"), dict):  # a mail without a Message-ID is told by its UID
                found.append((name, doc))
    return found


def handled(config: Config, held: list[tuple[str, dict[str, Any]]]) -> tuple[list[Handled], int, list[AssistError]]:
    """What the person did with each held mail, read-only: (what is to be done, how many still wait, the
    faults of the accounts that could not be looked at: their mail still waits, the others' is done)."""
    from .decide.engine import DecisionEngine
    from .errors import AssistError, UsageError
    from .mail import MailError, account_of

    if not config.action_section("imap").get("host"):
        raise UsageError("no IMAP account to look at the held mail in: configure [actions.imap] (`assist init`)")
    by_account: dict[str, tuple[ImapAccount, list[tuple[str, dict[str, Any]]]]] = {}
    for queue, doc in held:
        try:
            account = account_of(config, doc["data"]["imap"].get("account"))
        except MailError:
            continue  # read from an account not configured: nothing here can tell
        by_account.setdefault(account.address, (account, []))[1].append((queue, doc))
    out: list[Handled] = []
    faults: list[AssistError] = []
    engine = DecisionEngine(config)
    for account, its_mail in by_account.values():
        try:
            out += _handled_in(config, engine, account, its_mail)
        except AssistError as exc:  # out of reach, a sign-in refused: that account's mail waits
            faults.append(exc)
    return out, len(held) - len(out), faults


def _handled_in(config: Config, engine: DecisionEngine, account: ImapAccount,
                held: list[tuple[str, dict[str, Any]]]) -> list[Handled]:
    """What the person did with each held mail read from `account`, looked at there."""
    import re

    from .act.executors.email_imap import find, gone_from, reply_in, sent_folder
    from .decide.spam_policy import spam_route_name
    from .junk_folder import moved_example, on_server, route_folders
    from .mail import imap_reading
    from .message_id import PATTERN
    from .queue.admin import about
    from .task import takes

    spam_route = spam_route_name(config)
    out: list[Handled] = []
    with imap_reading(account, "the held mail's folders") as conn:
        sent = sent_folder(conn, account.settings)
        folders = on_server(conn, route_folders(config))  # the route's "Junk" is Gmail's "[Gmail]/Spam"
        for queue, doc in held:
            data, task_type, subject = doc["data"], str(doc.get("type", "")), about(doc)
            named = data.get("message_id")
            named = named if isinstance(named, str) and re.match(PATTERN, named) else None  # else: not searched
            gone = gone_from(conn, str(data["imap"].get("folder")), data)
            if gone:
                route = (doc.get("intent") or {}).get("route")
                into = next((folder for folder in sorted(folders) if named and folders[folder] != route
                             and takes(config.routes.get(folders[folder], {}), task_type)
                             and find(conn, folder, named)), None)
                if into is not None and route == "fallback":
                    out.append(Handled(queue, doc["id"], subject, "approve", f"you moved it into {into}",
                                       folders[into]))
                elif into is not None and "sha256" in data:
                    taught = folders[into]
                    out.append(Handled(queue, doc["id"], subject, "reject", f"you moved it into {into}, learned as "
                                       + ("spam" if taught == spam_route else taught), learned=moved_example(
                                           engine, doc, taught, into, taught == spam_route)))
                else:
                    out.append(Handled(queue, doc["id"], subject, "reject",
                                       f"you moved or deleted it (no longer in {data['imap'].get('folder')})"))
            elif gone is False and named:
                replied = reply_in(conn, sent, named)
                if replied:
                    out.append(Handled(queue, doc["id"], subject, "reject", f"you replied ({replied})"))
    return out


def settle(config: Config, backend: Backend, found: list[Handled]) -> list[tuple[Handled, str | None]]:
    """Carry out what `handled` found: (each, None, or why it could not be: the person decided first)."""
    from .decide.engine import DecisionEngine
    from .decide.learning import Feedback
    from .errors import AssistError
    from .queue.admin import change
    from .stores import open_stores

    approvals, feedback = open_stores(config).approvals, Feedback(config.home)
    done: list[tuple[Handled, str | None]] = []
    for item in found:
        try:
            change(backend, item.id, item.verb, item.queue, reason=f"handled in your mail client: {item.why}",
                   route=item.route, routes=config.routes, approvals=approvals, by=BY)
            done.append((item, None))
        except AssistError as exc:  # approved, rejected or moved on meanwhile
            done.append((item, str(exc)))
    if feedback.add_once(*[item.learned for item, problem in done if item.learned and problem is None]):
        DecisionEngine(config).model()  # the new version, made now
    return done
