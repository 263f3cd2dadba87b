"""`assist stage passthrough`: copies tasks through the stage runner unchanged (for plumbing checks)."""

from __future__ import annotations

from ..task import Task
from .base import Stage, StageContext


class Passthrough(Stage):
    name = "passthrough"
    batch_size = 64

    def __init__(self, sleep_s: float = 0.0):
        self.sleep_s = sleep_s
        if sleep_s:
            self.batch_size = 1

    def process(self, task: Task, ctx: StageContext) -> Task:
        if self.sleep_s:
            ctx.cancelled.wait(self.sleep_s)  # simulated work that notices cancellation
        return task
