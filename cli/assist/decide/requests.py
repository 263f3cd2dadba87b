"""Typed requests ("summarise my week", "add lunch with Ana on Friday at 1pm"): the routes they go to are
`request = true` routes, kept apart from the routes of mail and other events, and have a model of their
own, trained on their `examples` and on the packaged examples (decide/data/requests.jsonl: SLURP's
assistant commands mapped to the default request routes by SLURP_ROUTES; what maps to no route is
out of scope and is answered by the `chat` route).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PACKAGED = Path(__file__).parent / "data" / "requests.jsonl"

# SLURP intent -> default request route. Its "query"/"set"/"quirky"/"greet" labels (no scenario in the
# name) take the scenario's: calendar query -> agenda, email query -> search_mail, lists query -> find_notes.
SLURP_ROUTES = {
    "calendar_query": "agenda", "calendar_set": "calendar_edit", "calendar_remove": "calendar_edit",
    "email_query": "search_mail", "email_querycontact": "search_mail", "email_sendemail": "draft_email",
    "email_addcontact": "note", "lists_createoradd": "note", "lists_remove": "note", "lists_query": "find_notes",
    "general_quirky": "chat", "general_joke": "chat", "general_greet": "chat",
}
IN_SCOPE_SCENARIOS = ("calendar", "email", "lists", "general")


def slurp_route(label: str, scenario: str) -> str:
    """The default request route of a SLURP example, or "oos" for one no request route serves."""
    if label in SLURP_ROUTES:
        return SLURP_ROUTES[label]
    if scenario in IN_SCOPE_SCENARIOS and "_" not in label:
        return SLURP_ROUTES.get(f"{scenario}_{label}", "oos")
    return "oos"


def is_request(task: dict[str, Any]) -> bool:
    return task.get("type") == "request"


def packaged_examples(routes: set[str]) -> list[tuple[str, str]]:
    """(text, route) of the packaged examples whose route is configured; the rest are out of scope."""
    out = []
    for line in PACKAGED.read_text().splitlines():
        row = json.loads(line)
        out.append((row["text"], row["route"] if row["route"] in routes else "oos"))
    return out
