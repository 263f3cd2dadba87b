"""`assist classify`: the decision engine as a stage. A task nobody is sure about (route "fallback") is
held for a person; the LLM fallback joins when a model backend exists."""

from __future__ import annotations

from typing import Any

from ..task import Task
from .base import Hold, Outcome, Stage, StageContext


class ClassifyStage(Stage):
    name = "classify"

    def __init__(self, config: Any):
        from ..decide.engine import DecisionEngine

        self.engine = DecisionEngine(config)
        self.batch_size = int(config.raw.get("classify", {}).get("batch", 32))

    def process_batch(self, tasks: list[Task], ctx: StageContext) -> list[Outcome]:
        intents = self.engine.decide(tasks)
        out: list[Outcome] = []
        for task, intent in zip(tasks, intents, strict=True):
            task["intent"] = intent
            ctx.log.debug("classified", task=task["id"], route=intent["route"], by=intent["by"],
                          confidence=intent["confidence"])
            if intent["route"] == "fallback":
                out.append(Hold(task, f"no confident route (best {intent['confidence']:.2f}); held for a person"))
            else:
                out.append(task)
        return out
