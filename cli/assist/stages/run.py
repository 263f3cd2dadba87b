"""`assist run`: ask the model (the first healthy one of the chain) and add the `result` section."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..task import Task
from .base import Stage, StageContext

if TYPE_CHECKING:
    from ..config import Config


class RunStage(Stage):
    name = "run"

    def __init__(self, config: Config, stream: bool = False):
        from ..ai.models import Models

        self.models = Models(config)
        self.stream = stream

    def process(self, task: Task, ctx: StageContext) -> Task:
        from ..ai import grounding
        from ..ai.running import run_prompt

        prompt = task.get("prompt")
        if not prompt:
            return task  # nothing to ask
        on_piece = None
        if self.stream:
            def on_piece(piece: str) -> None:
                sys.stderr.write(piece)
                sys.stderr.flush()
        result = run_prompt(prompt, self.models, on_piece)
        if self.stream:
            sys.stderr.write("\n")
        task["result"] = result
        grounding.check(task)
        if task.get("type") == "request":
            from ..asking import check_answer

            check_answer(task)  # an answer's times against its events, its links against its prompt, as `ask` does
        fields: dict[str, Any] = {"task": task["id"], "model": result["model"], "ms": result["ms"],
                                  **result["usage"]}
        if result.get("fallbacks"):
            fields["fell_back_from"] = [f["model"] for f in result["fallbacks"]]
        if ctx.config.section("logs").get("log_content"):
            fields["text"] = result["text"]
        ctx.log.info("answered", **fields)
        return task
