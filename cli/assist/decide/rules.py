"""Rules from assist.toml: ordered matches on task fields; the first that matches decides the route.

    [[rules]]
    name = "newsletters"
    route = "newsletter"
    match = {field = "data.from", glob = "*@news.*"}          # equals, glob, regex or contains
    # or: match = {any = [{...}, {...}]}   /   match = {all = [{...}, {...}]}
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Any

OPERATORS = ("equals", "glob", "regex", "contains")


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


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def matches(spec: dict[str, Any], task: dict[str, Any]) -> bool:
    if "any" in spec:
        return any(matches(s, task) for s in spec["any"])
    if "all" in spec:
        return all(matches(s, task) for s in spec["all"])
    value = field_value(task, spec["field"])
    values = value if isinstance(value, list) else [value]
    texts = ["" if v is None else str(v) for v in values]
    if "equals" in spec:
        return any(v == spec["equals"] for v in values) or any(t == str(spec["equals"]) for t in texts)
    if "glob" in spec:
        return any(fnmatch.fnmatch(t.lower(), str(spec["glob"]).lower()) for t in texts)
    if "regex" in spec:
        return any(_regex(spec["regex"]).search(t) for t in texts)
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
            stack.extend(spec.get("any", []) + spec.get("all", []))
            if "regex" in spec:
                try:
                    re.compile(spec["regex"])
                except re.error as exc:
                    out.append(f"{where}.match.regex: {spec['regex']!r} is not a valid regular expression ({exc})")
        if rule.get("route") not in routes and rule.get("route") != "fallback":
            out.append(f"{where}.route: no route named {rule.get('route')!r} in [routes]")
    return out
