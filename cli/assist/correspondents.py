"""The people a person writes to: every address a mail sent by `assist act` (email.send, email.reply,
gmail.send) went to, To and Cc, and those of the mail in the IMAP account's Sent folder when asked
(`assist classify correspondents --from-sent`), never the person's own. The spam decision
(decide/spam_policy.py) never files their mail in Junk by itself: a model that takes it for spam holds
it for the person instead, and "might be spam" is not asked of it. The rules see
`signals.correspondent`.

Why only mail sent: an address a person wrote to is one they chose. A From line can be forged, so a
correspondent's name on a spam is worth a question, never a free pass: the worst it gets is held.
The sender's own address is never one (spam "from yourself" is common).

Kept as one SHA-256 digest of each address per line of `state/correspondents`, appended under a lock:
the file does not list a person's contacts to whoever reads it (it is no secret either: an address
can be tried against it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .mail import ImapAccount

FILE = "state/correspondents"
FETCH_BATCH = 500  # messages' headers asked for in one IMAP FETCH


def addresses(*values: str) -> list[str]:
    """The addresses (lowercased addr-specs) in header values such as "Ana <ana@example.org>, bo@x.org"."""
    found = [address.strip().lower() for _, address in getaddresses([str(v) for v in values if v])]
    return [a for a in dict.fromkeys(found) if "@" in a and " " not in a]


def sender_key(data: dict[str, Any]) -> str | None:
    """A digest of the one address a mail's From line gives; None when it gives none or several, or when
    the person's provider said it could not confirm it (lookalikes.not_confirmed): what a person does with
    one of a sender's mails is a word about the sender, not about whoever wrote their address."""
    from .lookalikes import not_confirmed

    found = addresses(str(data.get("from") or ""))
    if len(found) != 1 or not_confirmed(data) is not None:
        return None
    return hashlib.sha256(b"assist-sender:" + found[0].encode()).hexdigest()


def digest(address: str) -> str:
    return hashlib.sha256(b"assist-correspondent:" + address.encode()).hexdigest()


class Correspondents:
    """state/correspondents of one home (digest_file.py). `own`: the person's own addresses (header
    values), which are never kept nor taken for a correspondent's, whatever the file holds (a version
    before kept them from a mail sent to oneself; an account added to the config since)."""

    def __init__(self, home: Path, own: Iterable[str] = ()):
        from .digest_file import DigestFile

        self.path = home / FILE
        self._file = DigestFile(self.path)
        self._own = frozenset(addresses(*own))

    @classmethod
    def of(cls, config: Config, *also_own: str) -> Correspondents:
        """The correspondents of a config's home, its accounts' addresses (own_addresses) and `also_own`
        (the From of a mail being sent) left out."""
        return cls(config.home, [*own_addresses(config), *also_own])

    def remember(self, sent_to: Iterable[str]) -> str | None:
        """Keep the addresses a mail was sent to (header values), not the person's own. Called once the
        mail is sent, so a fault here is said (the returned text), never raised: a send that looked
        failed would be sent again."""
        try:
            self._file.add(digest(a) for a in addresses(*sent_to) if a not in self._own)
        except OSError as exc:
            return f"the addresses were not kept as correspondents: {exc.strerror or exc}"
        return None

    def known(self) -> frozenset[str]:
        """The digests kept; none when the file is missing or unreadable (mail is then judged as any other)."""
        return self._file.known()

    def wrote_to(self, from_value: str) -> bool:
        """Whether the (one) address of a From header is someone this person wrote to."""
        found = addresses(from_value)
        return len(found) == 1 and found[0] not in self._own and digest(found[0]) in self.known()


def own_addresses(config: Config) -> list[str]:
    """The person's own addresses: each account's login and From ([actions.imap], its accounts, and
    [actions.smtp] and its accounts) and [actions.gmail] address. Spam "from yourself" is common: none of
    them is a correspondent, nor a sender the person vouched for (decide/spam_policy.py)."""
    imap, smtp = config.action_section("imap"), config.action_section("smtp")
    sections = [imap, *(imap.get("accounts") or {}).values(), smtp, *(smtp.get("accounts") or {}).values()]
    values = [str(s.get(key) or "") for s in sections if isinstance(s, dict) for key in ("username", "from")]
    values.append(str(config.action_section("gmail").get("address") or ""))
    return addresses(*values)


def from_sent_folder(config: Config, folder: str | None = None, account: str | None = None) -> tuple[int, int]:
    """Keep the To and Cc of every message in the Sent folder of each of the person's accounts
    ([actions.imap], [actions.imap.accounts.NAME]; `account`: the one so named, "" [actions.imap]'s), its
    `sent` (default "Sent"; when that is not there, the folder the server marks as Sent), read-only and
    headers only; not the accounts' own addresses nor [actions.smtp] from. Returns (messages read,
    correspondents kept in all)."""
    from .errors import AssistError, joined
    from .mail import accounts_to_read

    accounts = accounts_to_read(config, account, folder, "a Sent folder")
    read, sent_to, missing = 0, list[str](), list[AssistError]()
    for each in accounts:
        try:
            headers = _sent_headers(each, folder)
        except AssistError as exc:  # no such folder, out of reach: the other accounts' are kept all the same
            missing.append(exc)
            continue
        read, sent_to = read + len(headers), sent_to + [value for head in headers for value in head]
    people = Correspondents.of(config)
    problem = people.remember(sent_to)
    if problem:
        raise AssistError(problem)
    if missing:
        others = f" ({read} sent message(s) of the other accounts read)" if len(missing) < len(accounts) else ""
        raise joined(missing, others)
    return read, len(people.known())


def _sent_headers(account: ImapAccount, folder: str | None) -> list[list[str]]:
    """The To and Cc values of each message in the account's Sent folder (`folder`, else its `sent`)."""
    from email.parser import BytesHeaderParser

    from .errors import UsageError
    from .mail import folder_on_server, imap_folder, imap_reading

    name = folder or account.settings.get("sent", "Sent")
    out: list[list[str]] = []
    with imap_reading(account, f"the Sent folder {name!r}") as conn:
        if folder is None:  # the configured name, under the person's namespace, or the one marked \Sent
            name = folder_on_server(conn, name, "Sent") or name
        status, _ = conn.select(imap_folder(name), readonly=True)
        if status != "OK":
            raise UsageError(f"no folder {name!r} in {account.address}: give --folder, or set {account.section} sent")
        status, found = conn.uid("SEARCH", "ALL")
        uids = found[0].split() if status == "OK" and found and found[0] else []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = b",".join(uids[start:start + FETCH_BATCH]).decode()
            status, parts = conn.uid("FETCH", batch, "(BODY.PEEK[HEADER.FIELDS (TO CC)])")
            for part in parts if status == "OK" else []:
                if isinstance(part, tuple):
                    head = BytesHeaderParser().parsebytes(part[1])
                    out.append([str(v) for v in (head.get_all("to") or []) + (head.get_all("cc") or [])])
    return out
