"""What `assist config check` verifies about the routes' actions beyond the schema: every action type a
route names exists, every fixed action is one the route allows and has arguments its executor takes, and
the [actions.*] section each action needs is there (else every task on the route would fail)."""

from __future__ import annotations

from typing import Any

# the section (and the key in it, or any of its keys) an executor cannot work without
NEEDS = {"notes": ("notes", "vault"), "file": ("files", "roots"), "email.send": ("smtp", "host"),
         "email.reply": ("smtp", "host"), "email.move": ("imap", "host"), "email.flag": ("imap", "host"),
         "email.draft": ("imap", "host"), "email.forward": ("imap", "host"), "webhook.post": ("webhook", "allow"),
         "shell.run": ("shell", "allow"),
         "calendar.add": ("calendar", "file", "caldav"), "gmail": ("gmail", "token")}


def _needs(kind: str) -> tuple[str, ...] | None:
    return NEEDS.get(kind) or NEEDS.get(kind.split(".")[0])


def errors(raw: dict[str, Any]) -> list[str]:
    """Mistakes in the routes' actions: unknown types, fixed actions the route does not allow, fixed
    arguments the executor does not take (values filled in from the task, {{ ... }}, are not judged)."""
    from .plan import executors

    known = executors()
    out = []
    for name, route in raw.get("routes", {}).items():
        where = f"routes.{name}"
        allowed = set(route.get("actions", [])) | set(route.get("confirm", []))
        for key in ("actions", "confirm"):
            for kind in route.get(key, []):
                if kind not in known:
                    out.append(f"{where}.{key}: no action {kind!r}{_closest(kind, known)}")
        for index, fixed in enumerate(route.get("fixed", [])):
            kind = fixed.get("type")
            if kind not in known:
                out.append(f"{where}.fixed.{index}.type: no action {kind!r}{_closest(str(kind), known)}")
                continue
            if kind not in allowed:
                out.append(f"{where}.fixed.{index}: {kind} is not in the route's actions or confirm, so it would "
                           "always be refused")
            out += [f"{where}.fixed.{index}.args.{p}" for p in _argument_problems(kind, fixed.get("args", {}))]
    return out


def gaps(raw: dict[str, Any]) -> list[str]:
    """What routes need that is not configured: a line per [actions.*] key missing, naming who needs it."""
    sections = raw.get("actions", {})
    users: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for name, route in raw.get("routes", {}).items():
        for kind in dict.fromkeys([*route.get("actions", []), *route.get("confirm", [])]):
            need = _needs(kind)
            if need and not any(sections.get(need[0], {}).get(key) for key in need[1:]):
                users.setdefault(need, {}).setdefault(name, []).append(kind)
    out = []
    for (section, *keys), by_route in sorted(users.items()):
        key = keys[0] + "".join(f" (or {k})" for k in keys[1:])
        names, kinds = ", ".join(by_route), ", ".join(dict.fromkeys(k for kinds in by_route.values() for k in kinds))
        who = f"route {names} needs" if len(by_route) == 1 else f"routes {names} need"
        out.append(f"actions.{section}.{key}: not set, and {who} it for {kinds} (`assist init` sets up mail "
                   "and notes; see docs/actions.md)")
    return out


def _argument_problems(kind: str, args: Any) -> list[str]:
    import jsonschema_rs

    from .registry import REGISTRY

    if not isinstance(args, dict):
        return ["(args): must be a table"]
    out = []
    for error in jsonschema_rs.validator_for(REGISTRY[kind].schema).iter_errors(args):
        path = list(error.instance_path)
        value: Any = args
        for part in path:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                value = None
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            continue  # filled in from each task: judged when the action is planned
        kind_name = type(error.kind).__name__
        if kind_name == "AdditionalProperties":
            unexpected: Any = getattr(error.kind, "unexpected", [])
            message = "unknown argument(s): " + ", ".join(repr(k) for k in unexpected)
        else:
            message = error.message
        out.append(f"{'.'.join(map(str, path)) or '(args)'}: {message}")
    return out


def _closest(word: str, known: Any) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
