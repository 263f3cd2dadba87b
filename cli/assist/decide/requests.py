"""Typed requests ("summarise my week", "add lunch with Ana on Friday at 1pm"): the routes they go to are
`request = true` routes, kept apart from the routes of mail and other events, and have a model of their
own (made as REQUESTS below says), trained on their `examples` and on the packaged examples
(decide/data/requests.jsonl, written by scripts/make-request-examples):

- SLURP's devel split, mapped to the default request routes by SLURP_ROUTES; what maps to no route is
  out of scope (its `topic` is SLURP's scenario: weather, music...) and is answered by the `chat` route;
- CLINC150's train split, only the intents that one of those routes serves (CLINC_ROUTES): its
  calendar, reminders, lists and small talk in other words than SLURP's.
"""

from __future__ import annotations

import json
from pathlib import Path

from .intent import OOS, Recipe

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

# CLINC150 intent -> default request route, as SLURP would label it (reminders are calendar in SLURP:
# "remind me to..." is calendar_set, "what are my reminders" calendar_query). CLINC's other intents are
# not packaged: its out-of-scope examples are SLURP's to give.
CLINC_ROUTES = {
    "calendar": "agenda", "meeting_schedule": "agenda", "reminder": "agenda",
    "calendar_update": "calendar_edit", "schedule_meeting": "calendar_edit", "reminder_update": "calendar_edit",
    "todo_list": "find_notes", "shopping_list": "find_notes",
    "todo_list_update": "note", "shopping_list_update": "note",
    **{name: "chat" for name in (
        "tell_joke", "greeting", "goodbye", "thank_you", "what_is_your_name", "how_old_are_you", "are_you_a_bot",
        "meaning_of_life", "fun_fact", "what_are_your_hobbies", "do_you_have_pets", "where_are_you_from",
        "who_made_you")},
}

# The request model's recipe (bench/ask.py, 5-fold on SLURP devel, 2026-12-01): words besides the
# embeddings +2.3 points, a linear SVM rather than logistic regression +1.5, CLINC150's examples +1.2,
# out-of-scope examples weighted 0.2 rather than 1 +1.7 (and 3% more of them taken for a request); each
# out-of-scope topic a column of its own (`label`, decide/intent.py) +0.8, 2026-12-02.
REQUESTS = Recipe(head="svm", c=0.5, oos_weight=0.2, word_features=1 << 16)


def slurp_route(label: str, scenario: str) -> str:
    """The default request route of a SLURP example, or "oos" for one no request route serves."""
    if label in SLURP_ROUTES:
        return SLURP_ROUTES[label]
    if scenario in IN_SCOPE_SCENARIOS and "_" not in label:
        return SLURP_ROUTES.get(f"{scenario}_{label}", "oos")
    return "oos"


def packaged_rows() -> list[dict[str, str]]:
    """The packaged examples: {"text", "route", "source"} ("slurp" or "clinc150"), and the "topic" of an
    out-of-scope one (route "oos")."""
    return [json.loads(line) for line in PACKAGED.read_text().splitlines() if line.strip()]


def label(row: dict[str, str], routes: set[str]) -> str:
    """What the request model learns from a packaged example: its route when configured, else out of scope
    with its topic ("oos:weather"; an example of a route the config does not have: "oos:ROUTE")."""
    if row["route"] in routes:
        return row["route"]
    return f"{OOS}:{row.get('topic') or row['route']}"


def packaged_examples(routes: set[str]) -> list[tuple[str, str]]:
    """(text, label) of the packaged examples (`label`)."""
    return [(row["text"], label(row, routes)) for row in packaged_rows()]
