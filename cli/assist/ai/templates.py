"""Prompt templates: `prompts/NAME.md`, TOML front matter between `+++` lines and a Jinja2 body.

    +++
    description = "what it is for"
    model = "default"          # or a model name from [models]
    temperature = 0.2
    max_tokens = 200
    system = "You are ..."     # the system message (optional)
    grounded = ["summary"]     # reply fields whose names, numbers and dates must be in the prompt or data
    [output]                   # a JSON Schema: the reply must be JSON of this shape (optional)
    type = "object"
    +++
    Body over `task`, `data` (= task.data), `intent` and `context` (the chunks from memory).

A file in `$ASSIST_HOME/prompts/` overrides the built-in template of the same name. The body is rendered
in Jinja2's sandbox; task data fills it as values, never as template code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..lookalikes import sender
from .written_to_the_assistant import written_to_the_assistant

FENCE = "+++"


def builtin_dir() -> Path:
    """`assist/prompts` in an installed wheel, the repository's `prompts/` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "prompts", package.parent.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    return package / "prompts"


@dataclass
class Template:
    name: str
    path: Path
    body: str
    description: str = ""
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int = 256
    system: str | None = None
    output: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)  # memory lookup: k, max_distance, collection
    grounded: list[str] = field(default_factory=list)  # reply fields checked against prompt and data (ai/grounding.py)

    def render(self, **values: Any) -> list[dict[str, str]]:
        messages = []
        if self.system:
            messages.append({"role": "system", "content": _compile(self.system).render(**values).strip()})
        messages.append({"role": "user", "content": _compile(self.body).render(**values).strip()})
        return messages


@cache
def _environment(finalize: Callable[[Any], str] | None = None) -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False,
                                        finalize=finalize)
    env.filters["oneline"] = oneline
    env.filters["written_to_the_assistant"] = written_to_the_assistant
    env.filters["sender_lookalike"] = sender
    return env


def oneline(value: Any) -> str:
    """`{{ parsed.summary | oneline }}`: the value on one line, every run of white space (line breaks of any
    kind among it) one space. What a model wrote after reading a mail cannot start a line of its own in a
    note, where it would read as another entry."""
    return " ".join(str(value).split())


@cache
def _compile(source: str, finalize: Callable[[Any], str] | None = None) -> Any:
    return _environment(finalize).from_string(source)


def render_text(source: str, finalize: Callable[[Any], str] | None = None, **values: Any) -> str:
    """A template string rendered in the sandbox (compiled once per distinct string); `finalize`, when
    given, is applied to the value of every `{{ ... }}` (escaping it for where the text goes)."""
    return _compile(source, finalize).render(**values)


def parse(text: str, path: Path) -> Template:
    problems: list[str] = []
    meta: dict[str, Any] = {}
    body = text
    if text.startswith(FENCE):
        head, sep, rest = text[len(FENCE):].partition("\n" + FENCE)
        if not sep:
            raise ConfigError([f"{path}: front matter opened with +++ is never closed"])
        try:
            meta = tomllib.loads(head)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: front matter: {exc}"]) from None
        body = rest.partition("\n")[2]
    known = {"description", "model", "temperature", "max_tokens", "system", "output", "context", "grounded"}
    problems += [f"{path}: front matter: unknown key {key!r}" for key in meta if key not in known]
    grounded = meta.get("grounded", [])
    if not isinstance(grounded, list) or not all(isinstance(g, str) for g in grounded):
        problems.append(f"{path}: grounded: a list of the reply's field names, like [\"summary\"]")
    elif grounded and "output" not in meta:
        problems.append(f"{path}: grounded: needs an [output] schema (the fields are the parsed reply's)")
    if "output" in meta:
        try:
            import jsonschema_rs

            jsonschema_rs.validator_for(meta["output"])
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            problems.append(f"{path}: output: not a valid JSON Schema ({str(exc).splitlines()[0]})")
    try:
        _compile(body)
        if meta.get("system"):
            _compile(str(meta["system"]))
    except Exception as exc:  # jinja2.TemplateSyntaxError, without importing jinja2 here
        problems.append(f"{path}: line {getattr(exc, 'lineno', '?')}: {exc}")
    if problems:
        raise ConfigError(problems)
    return Template(name=path.stem, path=path, body=body, description=str(meta.get("description", "")),
                    model=meta.get("model"), temperature=float(meta.get("temperature", 0.0)),
                    max_tokens=int(meta.get("max_tokens", 256)), system=meta.get("system"),
                    output=meta.get("output"), context=dict(meta.get("context", {})), grounded=list(grounded))


def find(name: str, home: Path) -> Path:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError([f"template {name!r}: a name is letters, digits, - and _"])
    for folder in (home / "prompts", builtin_dir()):
        path = folder / f"{name}.md"
        if path.is_file():
            return path
    raise ConfigError([f"template {name!r}: no {name}.md in {home / 'prompts'} or the built-in templates"])


_loaded: dict[Path, tuple[float, Template]] = {}


def load(name: str, home: Path) -> Template:
    path = find(name, home)
    mtime = path.stat().st_mtime
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    template = parse(path.read_text(encoding="utf-8"), path)
    _loaded[path] = (mtime, template)
    return template


def available(home: Path) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(builtin_dir().glob("*.md")) if p.name != "README.md"}
    found.update({p.stem: p for p in sorted((home / "prompts").glob("*.md"))})
    return found
