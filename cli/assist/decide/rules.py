"""Rules from assist.toml: ordered matches on task fields; the first that matches decides the route.

    [[rules]]
    name = "newsletters"
    route = "newsletter"
    match = {field = "data.from", glob = "*@news.*"}          # equals, glob, regex, contains
    # numbers: {field = "signals.spam", below = 0.2} / at_least = 0.5
    # or: match = {any = [{...}, {...}]}   /   match = {all = [{...}, {...}]}   /   match = {not = {...}}

A regex is matched by RE2 (decide/regex.py), case-insensitively: in time linear in the text, whatever the
pattern, so a mail cannot make a rule hang.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from . import regex

OPERATORS = ("equals", "glob", "regex", "contains", "below", "at_least")


def field_value(task: dict[str, Any], path: str) -> Any:
    value: Any = task
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def matches(spec: dict[str, Any], task: dict[str, Any]) -> bool:
    if "any" in spec:
        return any(matches(s, task) for s in spec["any"])
    if "all" in spec:
        return all(matches(s, task) for s in spec["all"])
    if "not" in spec:
        return not matches(spec["not"], task)
    value = field_value(task, spec["field"])
    if "below" in spec or "at_least" in spec:  # a number; a missing field or another type never matches
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return value < spec["below"] if "below" in spec else value >= spec["at_least"]
    values = value if isinstance(value, list) else [value]
    texts = ["" if v is None else str(v) for v in values]
    if "equals" in spec:
        return any(v == spec["equals"] for v in values) or any(t == str(spec["equals"]) for t in texts)
    if "glob" in spec:
        return any(fnmatch.fnmatch(t.lower(), str(spec["glob"]).lower()) for t in texts)
    if "regex" in spec:
        return any(regex.search(spec["regex"], t, ignore_case=True) for t in texts)
    if "contains" in spec:
        return any(str(spec["contains"]).lower() in t.lower() for t in texts)
    return False


def first_match(rules: list[dict[str, Any]], task: dict[str, Any]) -> dict[str, Any] | None:
    return next((rule for rule in rules if matches(rule["match"], task)), None)


def problems(rules: list[dict[str, Any]], routes: dict[str, Any]) -> list[str]:
    """What `config check` adds to the schema: regexes that compile, routes that exist."""
    out = []
    for index, rule in enumerate(rules):
        where = f"rules.{index}"
        stack = [rule.get("match", {})]
        while stack:
            spec = stack.pop()
            stack.extend(spec.get("any", []) + spec.get("all", []) + ([spec["not"]] if "not" in spec else []))
            if "regex" in spec:
                reason = regex.problem(spec["regex"])
                if reason:
                    out.append(f"{where}.match.regex: {spec['regex']!r} {regex.explain(spec['regex'], reason)}")
        if rule.get("route") not in routes and rule.get("route") != "fallback":
            out.append(f"{where}.route: no route named {rule.get('route')!r} in [routes]")
    return out


def refused(signals: dict[str, Any]) -> set[str]:
    """The routes a person refused for a task, which no rule or model may give it: the one whose filing
    of this very mail they undid, those they refused for its list (`signals.moved_back_from`,
    `signals.list_refuses`: decide/engine.py)."""
    found = {str(signals["moved_back_from"])} if signals.get("moved_back_from") else set()
    return found | {str(r) for r in signals.get("list_refuses") or []}
