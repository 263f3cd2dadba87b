"""Carrying out a plan exactly once: each action is journaled by its idempotency key before and after it
runs (state/actions.db). A task that comes back (a retry, a redelivery after a crash, an approval) skips
what is done. An action found `started` but not finished was interrupted: an executor that is
`repeatable` runs again, told so (ctx.resumed) to look for what the dead run did; one with `check_done`
is asked whether it happened (a mail found in Sent is done); for the others (shell.run) the action fails
as "unsure" with its key, rather than happening twice. An action whose executor says the outcome is
unknown (OutcomeUnknown: the connection dropped once the mail was handed over) is left `started` the same
way: its retry asks first. An executor whose action has happened before its last steps says so (ctx.happened: the
SMTP server took the mail, its copy in Sent is still to be kept): journaled as done then, a crash in
those steps does not repeat it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TEMPFAIL, AssistError, OutcomeUnknown, TemporaryError, storage_error
from .registry import REGISTRY, ActionContext, Refused

if TYPE_CHECKING:
    from ..config import Config
    from ..stores import Stores


def perform(task: dict[str, Any], actions: list[dict[str, Any]], stores: Stores, config: Config, log: Any) -> None:
    """Run the plan's actions that are planned or approved, updating each one's status, result and error
    (the journal and the rate limits are the home's stores). A TemporaryError goes on up (the action
    did not happen; the task is retried)."""
    for action in actions:
        if action["status"] in ("planned", "awaiting_approval"):
            _perform(task, action, stores, config, log)


def _perform(task: dict[str, Any], action: dict[str, Any], stores: Stores, config: Config, log: Any) -> None:
    journal = stores.journal
    key, kind = action["key"], action["type"]
    executor = REGISTRY[kind]
    prior = journal.get(key)
    ctx = ActionContext(config, key, task, lambda result: journal.done(key, task["id"], kind, result),
                        resumed=bool(prior and prior["state"] == "started"))
    if prior and prior["state"] == "done":
        action.update(status="done", result=prior["result"], error=None)
        return
    if prior and prior["state"] == "started" and not executor.repeatable:
        found = executor.check_done(key, ctx) if executor.check_done else None
        if found:  # it did happen before the crash: record it, do not repeat it
            journal.done(key, task["id"], kind, found)
            action.update(status="done", result=found, error=None)
            return
        if found is None:
            error = f"interrupted earlier: unsure whether it happened (key {key}); check before retrying"
            action.update(status="failed", error=error)
            journal.failed(key, task["id"], kind, error)
            return
    limit = config.action_section("limits").get(kind)
    if limit:
        stores.limits.take(kind, limit)  # may wait; TemporaryError when the wait would be long
    journal.started(key, task["id"], kind)
    try:
        result = executor.run(action["args"], ctx)
    except OutcomeUnknown:  # it may have happened: left started, its retry is a recovery (above)
        raise
    except TemporaryError:
        journal.forget(key)  # it did not happen: the retry of the task may do it
        raise
    except Refused as exc:
        action.update(status="refused", error=str(exc)[:500])
        journal.failed(key, task["id"], kind, str(exc)[:500])
        log.warning("refused", task=task["id"], action=kind, error=str(exc)[:200])
        return
    except OSError as exc:  # a local write: the notes vault's, a root's
        full = storage_error(exc)
        if full is not None and full.exit_code == TEMPFAIL:  # a full disk wrote nothing (fileutil): the stage
            journal.forget(key)  # stops, the task stays queued, and the next run does it
            raise full from None
        error = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else f"{type(exc).__name__}: {exc}"
        _failed(action, journal, log, task["id"], kind, key, error)
        return
    except Exception as exc:  # an ActionError, or a bug in an executor: this action fails, others go on
        error = str(exc) if isinstance(exc, AssistError) else f"{type(exc).__name__}: {exc}"
        _failed(action, journal, log, task["id"], kind, key, error)
        return
    journal.done(key, task["id"], kind, result)
    action.update(status="done", result=result, error=None)
    log.info("action_done", task=task["id"], action=kind)


def _failed(action: dict[str, Any], journal: Any, log: Any, task_id: str, kind: str, key: str, error: str) -> None:
    action.update(status="failed", error=error[:500])
    journal.failed(key, task_id, kind, error[:500])
    log.warning("action_failed", task=task_id, action=kind, error=error[:200])
