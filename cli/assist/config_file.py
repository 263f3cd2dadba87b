"""assist.toml: reading it, checking it (the schema, then what each part adds: rules, models and
templates, alerts, shell patterns), and remembering a file that passed (`assist config check`)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from .config import Config
from .errors import ConfigError
from .fileutil import write_atomic
from .home import CONFIG_NAME, find_home


@cache
def _validator():
    import jsonschema_rs
    import orjson

    schema = (Path(__file__).parent / "schemas" / "config.schema.json").read_bytes()
    return jsonschema_rs.validator_for(orjson.loads(schema))


def check(raw: dict[str, Any], path: Path) -> list[str]:
    """The mistakes in a parsed config that make it unusable, each as 'FILE: KEY: problem' (every command
    refuses such a file)."""
    return problems(raw, path)[0]


def problems(raw: dict[str, Any], path: Path) -> tuple[list[str], list[str]]:
    """Everything wrong with a config, in one pass: (errors, gaps). Errors make it unusable: the schema,
    the rules, the routes' actions, models and templates, alerts, patterns. Gaps are what a route needs
    that is not configured (a section an action needs): the file loads, but the route's tasks would fail;
    `assist config check` reports both."""
    validator = _validator()
    errors = []
    broken = set()  # the top-level sections the schema found wrong: not looked at further
    for error in validator.iter_errors(raw):
        key = ".".join(str(p) for p in error.instance_path) or "(top level)"
        errors.append(f"{path}: {key}: {_explain(error)}")
        if error.instance_path:
            broken.add(str(error.instance_path[0]))
        elif type(error.kind).__name__ != "AdditionalProperties":  # an unknown top-level key spoils nothing else
            broken.add("")
    checks: list[tuple[tuple[str, ...], Any]] = [
        (("rules", "routes"), lambda: _rule_problems(raw)),
        (("routes", "classify"), lambda: _route_type_problems(raw)),
        (("routes", "actions"), lambda: _action_problems(raw)),
        (("routes", "models", "classify", "memory", "allow_remote"), lambda: _ai_problems(raw, path.parent)),
        (("alerts", "actions"), lambda: _alert_problems(raw)),
        (("actions",), lambda: _pattern_problems(raw)),
        (("actions",), lambda: _account_problems(raw)),
        (("queue",), lambda: _queue_problems(raw)),
    ]
    for sections, run in checks:
        if "" in broken or broken & set(sections):
            continue
        errors += [f"{path}: {p}" for p in run()]
    gaps = []
    if not broken & {"", "routes", "actions"}:
        from .act.checks import gaps as action_gaps

        gaps = [f"{path}: {p}" for p in action_gaps(raw)]
    return sorted(errors), gaps


def _account_problems(raw: dict[str, Any]) -> list[str]:
    """An SMTP server named for an account there is none of: a typo would leave that account's answers
    refused, with the section said to be missing."""
    actions = raw.get("actions", {})
    accounts = actions.get("imap", {}).get("accounts") or {}
    return [f"actions.smtp.accounts.{name}: no [actions.imap.accounts.{name}] whose mail it would answer "
            f"(configured: {', '.join(sorted(accounts)) or 'none'})"
            for name in sorted(actions.get("smtp", {}).get("accounts") or {}) if name not in accounts]


def _queue_problems(raw: dict[str, Any]) -> list[str]:
    from .queue import url_problem

    problem = url_problem(raw.get("queue", {}).get("url", ""))
    return [f"queue.url: {problem}"] if problem else []


def _rule_problems(raw: dict[str, Any]) -> list[str]:
    if not raw.get("rules"):
        return []
    from .decide.rules import problems as rule_problems

    return rule_problems(raw["rules"], raw.get("routes", {}))


def _route_type_problems(raw: dict[str, Any]) -> list[str]:
    """A request route takes typed requests only, and the spam route takes the mail the spam decision
    gives it (`types`, task.takes)."""
    from .decide.spam_policy import DEFAULT_ROUTE
    from .task import takes

    routes = raw.get("routes", {})
    out = [f"routes.{name}.types: a request route takes typed requests only; types is for the other routes"
           for name, route in routes.items() if route.get("request") and "types" in route]
    spam = str(raw.get("classify", {}).get("spam_route", DEFAULT_ROUTE))
    if spam in routes and not routes[spam].get("request") and not takes(routes[spam], "email.received"):
        out.append(f"routes.{spam}.types: the spam route is given mail by the spam decision; "
                   "its types must take email.received (email.*)")
    return out


def _action_problems(raw: dict[str, Any]) -> list[str]:
    from .act.checks import errors as action_errors

    return action_errors(raw)


def _ai_problems(raw: dict[str, Any], home: Path) -> list[str]:
    if not any(raw.get(k) for k in ("routes", "models", "classify", "memory")):
        return []
    from .ai.checks import problems as ai_problems

    return ai_problems(raw, home)


def _alert_problems(raw: dict[str, Any]) -> list[str]:
    if not raw.get("alerts"):
        return []
    from .alerts import problems as alert_problems

    return alert_problems(raw)


def _pattern_problems(raw: dict[str, Any]) -> list[str]:
    from .decide.regex import explain, problem

    out = []
    for index, entry in enumerate(raw.get("actions", {}).get("shell", {}).get("allow", [])):
        for position, want in enumerate(entry):
            reason = problem(want["pattern"]) if isinstance(want, dict) else None
            if reason:
                out.append(f"actions.shell.allow.{index}.{position}.pattern: {want['pattern']!r} "
                           f"{explain(want['pattern'], reason)}")
    return out


def warnings(raw: dict[str, Any], path: Path) -> list[str]:
    """What `assist config check` points out without refusing the file, each as 'FILE: KEY: warning'."""
    from .task import SENDS_MAIL

    out = []
    allow = raw.get("actions", {}).get("shell", {}).get("allow", [])
    if allow:
        from .act.executors.shell import warnings as shell_warnings

        out += shell_warnings(allow)
    if "desktop" in raw.get("alerts", {}).get("notify", []):
        import shutil

        if shutil.which("notify-send") is None:
            out.append("alerts.notify: desktop, but notify-send is not installed here, so no desktop alert can be "
                       "shown (apt install libnotify-bin; or a webhook or email instead: docs/management.md)")
    for name, route in raw.get("routes", {}).items():
        acting = [str(a.get("type")) for a in route.get("fixed", []) if isinstance(a, dict)
                  and "data.message_id" in str(a.get("args")) and str(a.get("type")).startswith(("email.", "gmail."))]
        if acting and "types" not in route and not route.get("request"):
            kinds = list(dict.fromkeys(acting))
            out.append(f"routes.{name}: its {', '.join(kinds)} act{'s' if len(kinds) == 1 else ''} on the task's "
                       f"own mail (data.message_id) and the route takes every type: a feed's or a webhook's item "
                       f"placed on it is refused the action; add types = [\"email.*\"] to keep them off it "
                       f"(docs/classify.md)")
        asked = route.get("confirm", [])
        unasked = [kind for kind in SENDS_MAIL if kind in route.get("actions", []) and kind not in asked]
        if unasked:
            out.append(f"routes.{name}.actions: {', '.join(unasked)} sends mail without a person approving it, to "
                       "whatever address a model proposes (a mail can tell it which); move it to confirm unless "
                       "that is meant")
        for index, action in enumerate(route.get("fixed", [])):
            args = action.get("args") if isinstance(action, dict) else None
            text = args.get("text") if isinstance(args, dict) else None
            if isinstance(text, str) and action.get("type") == "notes.append":
                out += [f"routes.{name}.fixed.{index}.args.text: {{{{{found}}}}} puts {MODELS_WORDS} in a note as "
                        f"they are, line breaks and all (a mail can have a model write what reads as further "
                        f"entries); write {{{{ {found.strip()} | oneline }}}}"
                        for found in _multiline_values(text, _one_line_fields(route, path.parent))]
                if _BODY_ONLY.search(text):
                    out.append(f"routes.{name}.fixed.{index}.args.text: data.body_text | written_to_the_assistant "
                               "looks at the body only (an order to the assistant in the subject goes unmarked); "
                               "data | written_to_the_assistant looks at the subject, the sender and the "
                               "attachments' names too")
                if _FROM_LINE_ONLY.search(text):
                    out.append(f"routes.{name}.fixed.{index}.args.text: data.from | sender_lookalike reads the From "
                               "line only; data | sender_lookalike also says when your provider could not "
                               "confirm the sender (Authentication-Results dmarc=fail)")
    out += _replies_drafted_unguarded(raw)
    return [f"{path}: {w}" for w in out]


def _replies_drafted_unguarded(raw: dict[str, Any]) -> list[str]:
    """Rules that route mail to a route that drafts or sends mail with nothing keeping out a mail that
    writes to the assistant, mail from someone the person never wrote to, or mail of the backlog (homes
    made before `signals.written_to_the_assistant`, before replies went to correspondents only and
    before `data.backlog`: the shipped urgent rule has all three)."""
    from .task import writes_mail

    out = []
    routes = raw.get("routes", {})
    for index, rule in enumerate(raw.get("rules", [])):
        route = routes.get(rule.get("route")) if isinstance(rule, dict) else None
        if not isinstance(route, dict) or route.get("request"):  # a request route takes no mail (task.takes)
            continue
        writes = ", ".join(writes_mail(route))
        match, name = str(rule.get("match")), f"rules.{index} ({rule.get('name', '?')})"
        if writes and "written_to_the_assistant" not in match:
            out.append(f"{name}: a mail that writes to the assistant gets {writes} from what a model read of it; "
                       f"add {{not = {{field = \"signals.written_to_the_assistant\", equals = true}}}} to its match "
                       "(docs/classify.md)")
        if writes and "signals.correspondent" not in match:
            out.append(f"{name}: mail from someone you never wrote to gets {writes}, a reply to whoever wrote it "
                       f"(fraud says \"urgent\" too); add {{field = \"signals.correspondent\", equals = true}} to its "
                       "match, and a rule after it for the rest (the shipped urgent-from-a-stranger: docs/classify.md)")
        if writes and "data.backlog" not in match:
            out.append(f"{name}: mail of the backlog (weeks old, read with `assist ingest imap --backlog`) gets "
                       f"{writes}; add {{not = {{field = \"data.backlog\", equals = true}}}} to its match "
                       "(docs/classify.md)")
    return out


_BODY_ONLY = re.compile(r"data\.body_text\s*\|\s*written_to_the_assistant")
_FROM_LINE_ONLY = re.compile(r"data\.from\s*\|\s*sender_lookalike")
MODELS_WORDS = "a model's words or a mail's body"
_VALUE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_MULTILINE = re.compile(r"\b(parsed|result|data\.body_text|data\[.body_text.\])\b")
_PARSED_FIELD = re.compile(r"\s*parsed\.(\w+)\b")


def _multiline_values(template: str, one_line: set[str]) -> list[str]:
    """The `{{ ... }}` of a template that insert what can hold line breaks (a model's reply, a mail's body)
    without `| oneline`; `parsed.NAME` of a field in `one_line` cannot."""
    return [found for found in _VALUE.findall(template) if _MULTILINE.search(found) and "oneline" not in found
            and not ((field := _PARSED_FIELD.match(found)) and field[1] in one_line)]


def _one_line_fields(route: dict[str, Any], home: Path) -> set[str]:
    """The reply fields of a route's template that its output schema keeps to one of a few words (an
    enum) or to what is not text (a number, a boolean): they hold no line break."""
    from .ai import templates

    try:
        output = templates.load(str(route.get("template")), home).output if route.get("template") else None
    except ConfigError:
        return set()
    properties = (output or {}).get("properties", {})
    return {name for name, field in properties.items() if isinstance(field, dict) and (
        "enum" in field or field.get("type") in ("number", "integer", "boolean"))}


def _explain(error: Any) -> str:
    kind = type(error.kind).__name__
    value = error.instance
    if kind == "AdditionalProperties":
        return "unknown key(s): " + ", ".join(repr(k) for k in error.kind.unexpected)
    if kind == "Enum":
        return f"{value!r} is not one of: " + ", ".join(repr(o) for o in error.kind.options)
    if kind == "OneOfNotValid":  # a value the schema takes in two kinds: what the key takes, by its schema
        schema = [str(p) for p in error.schema_path]
        if schema[-2:] == ["roots", "oneOf"]:
            return (f'{value!r} is not a folder nor a table of named folders (roots = "~/Documents", or '
                    'roots = {docs = "~/Documents", notes = "~/Notes"})')
        if schema[-4:] == ["allow", "items", "items", "oneOf"]:
            return f'{value!r} is not an argument (a string) nor {{pattern = "REGEX"}}'
        if schema[:2] == ["$defs", "match"]:
            return (f"{value!r} is not a match: {{field = ..., and one of equals, glob, regex, contains, below, "
                    "at_least}, {any = [...]}, {all = [...]} or {not = {...}} (docs/classify.md)")
        return f"{value!r} is not a duration (use seconds or a string such as 90s, 15m, 7d)"
    return error.message


def read(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None


def load(home: Path | None = None) -> Config:
    """The configuration of a home (found as docs/configuration.md says when not given), validated."""
    home = home or find_home()
    path = home / CONFIG_NAME
    if not path.exists():
        return Config(home=home, path=None)
    raw = _remembered(home, path)
    if raw is None:
        raw = read(path)
        problems = check(raw, path)
        if problems:
            raise ConfigError(problems)
        _remember(home, path, raw)
    return Config(home=home, path=path, raw=raw)


# A config that passed the check is remembered, parsed, in state/config.checked together with what
# identifies that very file, so later starts skip both the TOML parser and the validator.

def _stamp(path: Path) -> tuple[Any, ...]:
    import sys

    st = path.stat()
    schema = (Path(__file__).parent / "schemas" / "config.schema.json").stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino, schema.st_mtime_ns, sys.hexversion)


def _remembered(home: Path, path: Path) -> dict[str, Any] | None:
    import marshal

    try:
        stamp, raw = marshal.loads((home / "state" / "config.checked").read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return raw if stamp == _stamp(path) else None


def _remember(home: Path, path: Path, raw: dict[str, Any]) -> None:
    import marshal

    try:
        data = marshal.dumps((_stamp(path), raw))  # ValueError for TOML dates: then just not remembered
        state = home / "state"
        state.mkdir(exist_ok=True, mode=0o700)
        write_atomic(state / "config.checked", data, sync=False)
    except (OSError, ValueError):
        pass  # a read-only home only costs the check on every start


def config_now(config: Config) -> Config:
    """The configuration as assist.toml has it now, for what runs long (the dashboard, `assist top`): a
    route removed since the start is not offered, an account added is known; an edit that is not valid
    (yet) keeps `config`."""
    try:
        return load(config.home)
    except ConfigError:
        return config
