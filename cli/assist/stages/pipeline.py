"""`assist work`: several stages in one long-lived process, each model loaded once.

A task goes through the stages in order; a stage that holds it or fails stops it there. Stages whose
section the task already has are skipped (`intent`, `prompt`, `result`): a task retried after its model
was down, or approved after a hold, resumes where it stopped instead of being classified and answered
again (a route a person gave still goes through classify, which learns it and places nothing: the
stage's `still_wants`). `act` resumes by itself (its plan and journal). Each stage adds its own trace entry, so the task
reads as if it had gone through the piped commands.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..task import Task
from ..timeutil import rfc3339
from .base import Failure, Hold, Outcome, Stage, StageContext, failure_of

if TYPE_CHECKING:
    from ..config import Config

ORDER = ("classify", "prompt", "run", "act")
DONE_WHEN = {"classify": "intent", "prompt": "prompt", "run": "result"}


def make_stage(name: str, config: Config, dry_run: bool = False) -> Stage:
    if name == "classify":
        from .classify import ClassifyStage

        return ClassifyStage(config)
    if name == "prompt":
        from .prompt import PromptStage

        return PromptStage(config)
    if name == "run":
        from .run import RunStage

        return RunStage(config)
    if name == "act":
        from .act import ActStage

        return ActStage(dry_run=dry_run)
    raise ValueError(f"unknown stage {name!r} (choose from {', '.join(ORDER)})")


class Pipeline(Stage):
    name = "work"
    traces_itself = True
    timeout_per_task = True

    def __init__(self, stages: list[Stage]):
        self.stages = stages
        self.batch_size = min(s.batch_size for s in stages)
        if any(s.name in ("run", "act") for s in stages):
            self.batch_size = min(self.batch_size, 4)  # model calls and side effects: small batches

    def process_batch(self, tasks: list[Task], ctx: StageContext) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(tasks)
        alive = list(range(len(tasks)))
        for stage in self.stages:
            section = DONE_WHEN.get(stage.name)
            todo = [i for i in alive if not (section and tasks[i].get(section)) or stage.still_wants(tasks[i])]
            if not todo:
                continue
            started = time.perf_counter()
            results = stage.process_batch([tasks[i] for i in todo], ctx)
            ms = round((time.perf_counter() - started) * 1000 / len(todo), 3)
            for i, result in zip(todo, results, strict=True):
                failed = failure_of(result)
                if failed is not None:  # the runner names the stage in the trace
                    outcomes[i] = Failure(failed[0], failed[1] or stage.name)
                    alive.remove(i)
                    continue
                doc = result.task if isinstance(result, Hold) else result
                assert isinstance(doc, dict)
                doc.setdefault("trace", []).append({"stage": stage.name, "at": rfc3339(), "ms": ms, "ok": True,
                                                    "error": None})
                tasks[i] = doc
                if isinstance(result, Hold):
                    outcomes[i] = result
                    alive.remove(i)
        for i in alive:
            outcomes[i] = tasks[i]
        return outcomes  # type: ignore[return-value]
