"""`assist act`: plan a task's actions from its route, hold it for a person where the route asks (unless
this very plan was approved), then carry the plan out exactly once (act/perform.py)."""

from __future__ import annotations

from ..errors import PermanentError
from ..task import Task
from .base import Hold, Stage, StageContext


class ActStage(Stage):
    name = "act"

    def __init__(self, dry_run: bool = False):
        self.dry_run = dry_run

    def process(self, task: Task, ctx: StageContext) -> Task | Hold:
        from ..act.approvals import plan_digest, waiting
        from ..act.perform import perform
        from ..act.plan import plan
        from ..stores import open_stores

        actions = task["actions"] = plan(task, ctx.config)  # from the route, whatever the task brought
        for action in actions:
            if action["status"] == "refused":
                ctx.log.warning("refused", task=task["id"], action=action["type"], error=action["error"])
        if self.dry_run:
            return task
        stores = open_stores(ctx.config)
        held = waiting(actions)
        if held and not stores.approvals.plan_approved(task["id"], plan_digest(actions)):
            return Hold(task, "awaiting approval: " + ", ".join(held))
        perform(task, actions, stores, ctx.config, ctx.log)
        failed = [a for a in actions if a["status"] == "failed"]
        if failed:
            raise PermanentError(f"{len(failed)} of {len(actions)} action(s) failed: "
                                 + "; ".join(f"{a['type']}: {a['error']}" for a in failed)[:400])
        return task
