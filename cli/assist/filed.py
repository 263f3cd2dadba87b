"""Mail a route other than spam filed away (its email.move: a list's mail into Lists), so that a person who
moves one back is heard, and that what the person moves there themselves is told from the route's own
filing (`assist classify junk`: junk_folder.py). (The spam route's filing in Junk is kept by junked.py.)

When an email.move has moved a mail for a task on route R (act/executors/email_imap.py), the SHA-256 of
R's name with the message's digest (data.sha256, made at ingestion) is kept, one per line of
`state/filed` (the newest KEEP; digest_file.py). A mail that arrives again with the same bytes was moved
back by the person: a copy sent again has other Received lines, so other bytes, and a sender cannot know
the lines the person's own server added. Then R is not taken for it again, by a rule or a model, and it
is kept as the person's rejection of R (decide/engine.py): the next mail that reads nearly the same is
asked about, not filed.

The file holds digests, not mail nor route names: it tells nothing of what the messages said.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

FILE = "state/filed"
KEEP = 20_000  # mail filed away kept track of


def _key(route: str, sha256: str) -> str:
    return hashlib.sha256(f"assist-filed:{route}\0{sha256}".encode()).hexdigest()


class Filed:
    def __init__(self, home: Path):
        from .digest_file import DigestFile

        self._file = DigestFile(home / FILE, keep=KEEP)

    def remember(self, route: str, sha256: str) -> str | None:
        """Keep a mail route `route` moved. Called once it is moved, so a fault is said (the returned
        text), never raised: a move that looked failed would be tried again."""
        try:
            self._file.add([_key(route, sha256)])
        except OSError as exc:
            return f"the mail filed by route {route} was not kept track of: {exc.strerror or exc}"
        return None

    def moved_by(self, sha256: object, routes: Iterable[str]) -> str | None:
        """Which of `routes` moved the mail with these bytes away (None: none of them)."""
        if not isinstance(sha256, str) or len(sha256) != 64:
            return None
        known = self._file.known()
        return next((route for route in routes if _key(route, sha256) in known), None)
