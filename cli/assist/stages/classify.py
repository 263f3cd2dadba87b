"""`assist classify`: the decision engine as a stage. A task nobody is sure about (route "fallback") is
shown to the language model named by `[classify] fallback_model` (by default the embedded model when it
is the capable catalog one, decide/llm_fallback.py); what is still unplaced is held
for a person, who may give it a route (`assist queue approve ID --route NAME`); that choice stands. A task
from outside that writes to the assistant (its words would steer the model's choice) is held without
asking it. A task with nothing to classify (no text, subject or body) is held too, and named as bad input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..decide.intent import NOTHING_TO_CLASSIFY
from ..task import Task, takes
from .base import Hold, Outcome, Stage, StageContext

if TYPE_CHECKING:
    from ..config import Config


class ClassifyStage(Stage):
    name = "classify"

    def __init__(self, config: Config):
        from ..decide.engine import DecisionEngine

        self.engine = DecisionEngine(config)
        settings = config.section("classify")
        self.batch_size = int(settings.get("batch", 32))
        self.config = config
        self.llm = None
        from ..decide.llm_fallback import default_model

        model = default_model(config)
        if model:
            from ..decide.llm_fallback import LlmFallback

            self.llm = LlmFallback(config, model)

    def _routed_by_person(self, task: Task) -> bool:
        """Whether a person gave the task its route (`assist queue approve ID --route R`): the task says
        so, the approval records agree (a document claiming it is not enough), and the route still takes
        the task (task.takes: its `types` may have changed since)."""
        intent = task.get("intent") or {}
        if intent.get("by") != "person" or not takes(self.config.route(str(intent.get("route"))),
                                                     str(task.get("type", ""))):
            return False
        from ..stores import open_stores

        return open_stores(self.config).approvals.chosen_route(task["id"]) == intent.get("route")

    def still_wants(self, task: Task) -> bool:
        """A task whose route a person gave, not learned yet: learned here, placed as it is."""
        intent = task.get("intent") or {}
        return intent.get("by") == "person" and not intent.get("learned")

    def process_batch(self, tasks: list[Task], ctx: StageContext) -> list[Outcome]:
        by_person = {id(t) for t in tasks if self._routed_by_person(t)}
        learned = False
        for task in tasks:  # a person's route is an example to learn from (decide/learning.py)
            if id(task) in by_person and not (task.get("intent") or {}).get("learned") \
                    and self.engine.learn(task, task["intent"]["route"], "person"):
                task["intent"]["learned"] = learned = True
        if learned:
            self.engine.refresh()  # a new version now, for the rest of this batch and what comes next
        undecided = [t for t in tasks if id(t) not in by_person]
        decided = iter(self.engine.decide(undecided) if undecided else [])
        out: list[Outcome] = []
        for task in tasks:
            if id(task) in by_person:
                out.append(task)
                continue
            intent = next(decided)
            if intent.get("reason") == NOTHING_TO_CLASSIFY:
                task["intent"] = intent
                out.append(Hold(task, f"{NOTHING_TO_CLASSIFY}; held for a person", bad_input=True))
                continue
            if intent["route"] == "fallback" and (intent.get("signals") or {}).get("written_to_the_assistant"):
                intent["reason"] = ("no confident route, and its text writes to the assistant: its route is not "
                                    "the fallback model's to choose; held for a person")
            elif intent["route"] == "fallback" and self.llm is not None and not intent["by"].startswith("spam:"):
                try:
                    intent = self.llm.choose(task, intent)
                except Exception as exc:  # a model down or a bad reply: retried later, like any stage error
                    out.append(exc)
                    continue
            task["intent"] = intent
            ctx.log.debug("classified", task=task["id"], route=intent["route"], by=intent["by"],
                          confidence=intent["confidence"])
            if intent["route"] == "fallback":
                out.append(Hold(task, intent.get("reason")
                                or f"no confident route (best {intent['confidence']:.2f}); held for a person"))
            else:
                out.append(task)
        return out
