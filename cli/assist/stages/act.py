"""`assist act`: run a task's planned actions, exactly once each, after approval where the route asks.

Each action is journaled by its idempotency key before and after it runs (state/actions.db). A task that
comes back (a retry, a redelivery after a crash, an approval) skips what is done. An action found
`started` but not finished was interrupted: the idempotent executors (notes, files, calendar, webhooks
with their delivery id) run again; for the others (email.send, shell.run) the action fails as "unsure"
with what identifies it, rather than doing it twice.
"""

from __future__ import annotations

from typing import Any

from ..errors import PermanentError, TemporaryError
from ..task import Task
from .base import Hold, Stage, StageContext

REPEATABLE = {"notes.append", "file.write", "file.trash", "calendar.add", "webhook.post"}


class ActStage(Stage):
    name = "act"

    def __init__(self, dry_run: bool = False):
        self.dry_run = dry_run
        self._journal: Any = None
        self._approvals: Any = None

    def journal(self, home: Any) -> Any:
        if self._journal is None:
            from ..act.journal import Journal

            self._journal = Journal(home)
        return self._journal

    def approvals(self, home: Any) -> Any:
        if self._approvals is None:
            from ..act.approvals import Approvals

            self._approvals = Approvals(home)
        return self._approvals

    def process(self, task: Task, ctx: StageContext) -> Task | Hold:
        from ..act.approvals import plan_digest, waiting
        from ..act.plan import plan

        actions = task["actions"] = plan(task, ctx.config)  # from the route, whatever the task brought
        for action in actions:
            if action["status"] == "refused":
                ctx.log.warning("refused", task=task["id"], action=action["type"], error=action["error"])
        if self.dry_run:
            return task
        held = waiting(actions)
        if held and not self.approvals(ctx.config.home).plan_approved(task["id"], plan_digest(actions)):
            return Hold(task, "awaiting approval: " + ", ".join(held))
        journal = self.journal(ctx.config.home)
        for action in actions:
            if action["status"] in ("planned", "awaiting_approval"):
                self._run(task, action, journal, ctx)
        failed = [a for a in actions if a["status"] == "failed"]
        if failed:
            raise PermanentError(f"{len(failed)} of {len(actions)} action(s) failed: "
                                 + "; ".join(f"{a['type']}: {a['error']}" for a in failed)[:400])
        return task

    @staticmethod
    def _look_for(kind: str, key: str, ctx: StageContext, task: Task) -> dict[str, Any] | bool | None:
        """After a crash mid-send: find the message in the Sent folder by the Message-ID made from its key.
        A result when it was sent, False when it certainly was not, None when nothing can tell."""
        if kind not in ("email.send", "email.reply"):
            return None
        from ..act.executors.email_imap import was_sent
        from ..act.registry import ActionContext

        message_id = f"<{key}@assist.local>"
        sent = was_sent(ActionContext(ctx.config, key, task), message_id)
        if sent is None:
            return None
        return {"message_id": message_id, "found_in_sent": True} if sent else False

    def _run(self, task: Task, action: dict[str, Any], journal: Any, ctx: StageContext) -> None:
        from ..act.registry import REGISTRY, ActionContext, Refused

        key, kind = action["key"], action["type"]
        prior = journal.get(key)
        if prior and prior["state"] == "done":
            action.update(status="done", result=prior["result"], error=None)
            return
        if prior and prior["state"] == "started" and kind not in REPEATABLE:
            found = self._look_for(kind, key, ctx, task)
            if found:  # it did happen before the crash: record it, do not repeat it
                journal.done(key, task["id"], kind, found)
                action.update(status="done", result=found, error=None)
                return
            if found is None:
                error = f"interrupted earlier: unsure whether it happened (key {key}); check before retrying"
                action.update(status="failed", error=error)
                journal.failed(key, task["id"], kind, error)
                return
        limit = ctx.config.raw.get("actions", {}).get("limits", {}).get(kind)
        if limit:
            from ..act.limits import take

            take(ctx.config.home, kind, limit)  # may wait; TemporaryError when the wait would be long
        journal.started(key, task["id"], kind)
        try:
            result = REGISTRY[kind].run(action["args"], ActionContext(ctx.config, key, task))
        except TemporaryError:
            journal.forget(key)  # it did not happen: the retry of the task may do it
            raise
        except Refused as exc:
            action.update(status="refused", error=str(exc)[:500])
            journal.failed(key, task["id"], kind, str(exc)[:500])
            ctx.log.warning("refused", task=task["id"], action=kind, error=str(exc)[:200])
            return
        except Exception as exc:  # an ActionError, or a bug in an executor: this action fails, others go on
            from ..errors import AssistError

            error = str(exc) if isinstance(exc, AssistError) else f"{type(exc).__name__}: {exc}"
            action.update(status="failed", error=error[:500])
            journal.failed(key, task["id"], kind, error[:500])
            ctx.log.warning("action_failed", task=task["id"], action=kind, error=error[:200])
            return
        journal.done(key, task["id"], kind, result)
        action.update(status="done", result=result, error=None)
        ctx.log.info("action_done", task=task["id"], action=kind)
