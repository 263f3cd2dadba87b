"""The executor registry: each action type has a JSON Schema for its arguments and a function
`(args, ctx) -> result`. Executors raise TemporaryError for what may work later, anything else fails the
action.

Each executor also says how it recovers when a crash left it `started` in the journal (act/perform.py):
`repeatable=True` when running it again does no harm (it finds its own earlier work by the action's
key), else `check_done(key, ctx)` to find out whether it happened (a result, False when it surely did
not, None when nothing can tell); an executor with neither is reported as unsure rather than repeated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AssistError

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class ActionContext:
    config: Config
    key: str  # the action's idempotency key
    task: dict[str, Any]
    # Record that the action happened, with its result, before the executor's last steps: a crash from here
    # on does not repeat it (perform journals it as done; the final result replaces this one).
    happened: Callable[[dict[str, Any]], None] = lambda result: None
    resumed: bool = False  # an earlier run started this action and was cut short: its work may be found

    def section(self, name: str) -> dict[str, Any]:
        return self.config.action_section(name)


CheckDone = Callable[[str, ActionContext], "dict[str, Any] | bool | None"]


@dataclass
class Executor:
    name: str
    schema: dict[str, Any]
    run: Callable[[dict[str, Any], ActionContext], dict[str, Any]]
    repeatable: bool = False  # running it again after a crash mid-way does no harm
    check_done: CheckDone | None = None  # else: find out whether an interrupted run happened


REGISTRY: dict[str, Executor] = {}


def executor(name: str, schema: dict[str, Any], *, repeatable: bool = False,
             check_done: CheckDone | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = Executor(name, {"type": "object", "additionalProperties": False, **schema}, fn,
                                  repeatable, check_done)
        return fn

    return register


class ActionError(AssistError):
    """An action that cannot be done as asked: it fails (and is recorded), the other actions go on."""


class Refused(ActionError):
    """An action the policy forbids (a path out of its roots, a URL or command not allowed): it is
    recorded as refused and nothing happens."""


def problems(name: str, args: Any) -> list[str]:
    import jsonschema_rs

    from ..schema_text import unquoted

    validator = jsonschema_rs.validator_for(REGISTRY[name].schema)
    return [f"{'/'.join(map(str, e.instance_path)) or '(args)'}: {unquoted(e)}" for e in validator.iter_errors(args)]
