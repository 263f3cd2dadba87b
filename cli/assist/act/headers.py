"""Argument schemas for whatever reaches a mail header or a protocol line.

A value from a task (a model's reply, a mail's own headers) that holds CR or LF could end the line it
is put on and start another: a Bcc header, an IMAP command. These schemas refuse such values when an
action is planned, before any executor runs, and the other characters Python takes for a line break
(which the email package refuses with a ValueError when the mail is made). Message-IDs are held to the
strict form `<left@right>`: no spaces, quotes, backslashes or control characters, so a value can be sent
as a quoted IMAP string as it is.
"""

from __future__ import annotations

from ..message_id import PATTERN as MESSAGE_ID_PATTERN

# no NUL, and none of what str.splitlines takes for a line break (the email package refuses them all)
ONE_LINE = r"^[^\r\n\x00\x0b\x0c\x1c-\x1e\x85\u2028\u2029]*$"

MESSAGE_ID = {"type": "string", "minLength": 5, "maxLength": 998, "pattern": MESSAGE_ID_PATTERN}
HEADER_TEXT = {"type": "string", "maxLength": 998, "pattern": ONE_LINE}
ADDRESS = {"type": "string", "minLength": 3, "maxLength": 320, "pattern": ONE_LINE}
ADDRESSES = {"oneOf": [ADDRESS, {"type": "array", "items": ADDRESS, "minItems": 1, "maxItems": 50}]}
REFERENCES = {"type": "array", "items": MESSAGE_ID, "maxItems": 100}
