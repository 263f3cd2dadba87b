"""A JSON Schema error as text that names what is wrong without quoting the value: the value is a
model's words, which repeat a mail's, and such errors go to logs, alerts and the task's last error."""

from __future__ import annotations

import json
from typing import Any


def unquoted(error: Any) -> str:
    """jsonschema_rs's message for `error` with the value it quotes left out ('"my PIN is..." is longer
    than 400 characters' -> 'the value is longer than 400 characters'): the schema's words only."""
    kind = type(error.kind).__name__
    quoted = json.dumps(error.instance, ensure_ascii=False, separators=(",", ":"))
    if error.message.startswith(quoted):
        return "the value" + error.message[len(quoted):]
    if kind == "Required":  # names a property of the schema
        return error.message
    if kind == "AdditionalProperties":
        return "keys the schema does not allow: " + ", ".join(repr(k[:40]) for k in error.kind.unexpected)
    return f"not what the schema asks ({kind})"
