"""`assist prompt`: add the `prompt` section (template rendered with context, fitted to the model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..task import Task
from .base import Stage, StageContext

if TYPE_CHECKING:
    from ..config import Config


class PromptStage(Stage):
    name = "prompt"

    def __init__(self, config: Config):
        from ..act.plan import proposal_schema
        from ..ai.prompting import PromptBuilder

        self.config = config
        self.builder = PromptBuilder(config, proposals=proposal_schema)

    def process(self, task: Task, ctx: StageContext) -> Task:
        if task.get("type") == "request":  # its facts come from the data, whatever the document says
            from ..asking import prepare_request

            if prepare_request(self.config, task) is not None:
                return task  # cannot be served as asked: the sentence saying why is data.answer
        section = self.builder.build(task)
        if section is None:
            return task  # the route asks no model: the task goes on as it is
        task["prompt"] = section
        if "cut" in section:
            cut = section["cut"]
            ctx.log.warning("prompt cut to fit", task=task["id"], model=section["model"],
                            tokens_before=cut["tokens_before"], limit=cut["limit"],
                            context_dropped=cut["context_dropped"], fields=cut.get("fields", []))
        return task
