"""What a Message-ID header names: RFC 5322's `<left@right>`, held to the strict form assist acts on (no
spaces, quotes, backslashes or control characters, so it can be sent as a quoted IMAP string as it is)."""

from __future__ import annotations

import re

PATTERN = r'^<[^<>\s"\\\x00-\x1f\x7f]+@[^<>\s"\\\x00-\x1f\x7f]+>$'
_COMMENT = re.compile(r"\([^()]*\)")


def message_id(value: str) -> str:
    """The id a header's value names, without the comments and spaces around it (a relay may add
    `(added by postmaster@...)`); the value as it is when what is left is not one id of the strict form
    (`<id@host>-copy` is not `<id@host>`)."""
    bare = value
    for _ in range(5):  # comments may nest
        bare = _COMMENT.sub(" ", bare)
    bare = bare.strip()
    return bare if re.match(PATTERN, bare) else value
