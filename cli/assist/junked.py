"""Mail assist filed in Junk, so that a person who takes one back out is heard.

When the spam route's email.move has put a mail in Junk (act/executors/email_imap.py), the SHA-256 of
the message's bytes (data.sha256, made at ingestion) is kept, one per line of `state/junked` (the newest
KEEP; digest_file.py). A mail that arrives again with the same bytes was moved back by the person: a
copy sent again has other Received lines, so other bytes, and a sender cannot know the lines the
person's own server added. The spam decision (decide/spam_policy.py) then does not file it in Junk
again nor ask whether it is spam, the rules and the intent model place it, and the spam model learns
it as not spam (decide/engine.py).

What another route files away (a list's mail in Lists) is kept by filed.py, the same way.

The file holds digests, not mail: it tells nothing of what the messages said.
"""

from __future__ import annotations

from pathlib import Path

FILE = "state/junked"
KEEP = 20_000  # mail filed in Junk kept track of: about half a year at a hundred spam a day


class Junked:
    def __init__(self, home: Path):
        from .digest_file import DigestFile

        self._file = DigestFile(home / FILE, keep=KEEP)

    def remember(self, sha256: str) -> str | None:
        """Keep a mail filed in Junk. Called once it is moved, so a fault is said (the returned text),
        never raised: a move that looked failed would be tried again."""
        try:
            self._file.add([sha256])
        except OSError as exc:
            return f"the mail filed in Junk was not kept track of: {exc.strerror or exc}"
        return None

    def holds(self, sha256: object) -> bool:
        """Whether assist filed the mail with these bytes in Junk."""
        return isinstance(sha256, str) and len(sha256) == 64 and sha256 in self._file.known()
