"""The classify fallback through a language model (`[classify] fallback_model`): a task the rules and
the intent model could not place is shown to the model with the list of routes, and the model must
answer with one of their names or "none" (constrained JSON: an enum). "none" holds the task for a person.

The model's answer is untrusted like any model output: it can only name a configured route, and the
route's own policy still decides what may happen. The evidence (model, answer, the intent model's
scores) stays in the task's intent.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..ai import templates
from ..ai.models import Models
from ..ai.running import run_prompt
from .intent import task_text

if TYPE_CHECKING:
    from ..config import Config

TEMPLATE = "classify-fallback"
RESERVED = {"fallback", "default"}


def route_list(config: Config) -> list[dict[str, str]]:
    routes = []
    for name, route in config.routes.items():
        if name in RESERVED:
            continue
        about = route.get("description") or "; ".join(route.get("examples", [])[:3])
        routes.append({"name": name, "about": about})
    return routes


class LlmFallback:
    def __init__(self, config: Config, model: str):
        self.config = config
        self.model = model
        self.models = Models(config)
        self.routes = route_list(config)

    def choose(self, task: dict[str, Any], intent: dict[str, Any]) -> dict[str, Any]:
        """The intent after asking the model: a route (by "llm:MODEL"), or still "fallback"."""
        template = templates.load(TEMPLATE, self.config.home)
        names = [r["name"] for r in self.routes]
        schema = copy.deepcopy(template.output) or {"type": "object", "required": ["route"]}
        schema.setdefault("properties", {})["route"] = {"enum": [*names, "none"]}
        messages = template.render(task=task, data=task.get("data") or {}, routes=self.routes,
                                   text=task_text(task)[:1500])
        prompt = {"messages": messages, "schema": schema, "model": self.model,
                  "options": {"temperature": template.temperature, "max_tokens": template.max_tokens}}
        result = run_prompt(prompt, self.models)
        answer = result["parsed"]["route"]
        evidence = {"model": result["model"], "answer": answer, "ms": result["ms"]}
        if answer == "none":
            return {**intent, "llm": evidence, "reason": f"model {result['model']} found no fitting route"}
        return {**intent, "route": answer, "by": f"llm:{result['model']}", "llm": evidence}
