"""What a stage is: a function from task to task, run by the stage runner.

A stage returns the task with its own section added, or `Hold(task, reason)` to park it for a person
(`bad_input=True` when the task itself is unusable, as a classify task with no text). It
raises `TemporaryError` for failures worth retrying (a server down, a timeout) and `PermanentError` for
the rest; any other exception is a bug and counts as permanent. Long work should look at
`ctx.cancelled` now and then: it is set when the task was cancelled or timed out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..task import Task

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class Hold:
    task: Task
    reason: str
    bad_input: bool = False  # held because the task itself is unusable: reading stdin, its line is named (exit 65)


@dataclass
class Failure:
    """A task's failure in a stage that runs others (a pipeline): the error, and which stage it was in."""

    error: BaseException
    stage: str


Outcome = Task | Hold | BaseException | Failure


def failure_of(outcome: Outcome) -> tuple[BaseException, str | None] | None:
    """(the error, the stage it names or None) when the outcome is a failure, else None."""
    if isinstance(outcome, Failure):
        return outcome.error, outcome.stage
    if isinstance(outcome, BaseException):
        return outcome, None
    return None


@dataclass
class StageContext:
    config: Config
    log: Any
    cancelled: threading.Event = field(default_factory=threading.Event)


class Stage:
    name = "stage"
    batch_size = 1  # how many tasks process_batch takes at once
    timeout_per_task = False  # the timeout applies to each task of a batch (True) or to the whole batch
    traces_itself = False  # the stage adds its own trace entries for successes (a pipeline of stages)

    def process(self, task: Task, ctx: StageContext) -> Task | Hold:
        raise NotImplementedError

    def still_wants(self, task: Task) -> bool:
        """Whether a task that has this stage's section already (a pipeline skips it) must go through it
        again: classify learns a route a person gave (stages/classify.py)."""
        return False

    def process_batch(self, tasks: list[Task], ctx: StageContext) -> list[Outcome]:
        """Override to run a model once per batch; the default calls `process` per task."""
        out: list[Outcome] = []
        for task in tasks:
            try:
                out.append(self.process(task, ctx))
            except Exception as exc:  # recorded per task by the runner
                out.append(exc)
        return out
