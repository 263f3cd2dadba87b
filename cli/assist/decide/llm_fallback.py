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

if TYPE_CHECKING:
    from ..config import Config

TEMPLATE = "classify-fallback"
RESERVED = {"fallback", "default"}


def default_model(config: Config) -> str | None:
    """The fallback model when [classify] does not name one: `embedded`, when it is the catalog's capable
    model (pulled, with no [models] section to say otherwise); else none: a small model routes poorly,
    and what it would place is better held for a person. `fallback_model = ""` turns it off."""
    settings = config.section("classify")
    if "fallback_model" in settings:
        return str(settings["fallback_model"]) or None
    if config.raw.get("models"):
        return None
    from ..ai.pull import best_pulled

    best = best_pulled(config.home / "models")
    return "embedded" if best is not None and best.routes_well else None


def route_list(config: Config, task: dict[str, Any], signals: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The routes the model may choose among for an event: those that take it (task.takes: never a
    typed-request route, `assist ask` has its own) and are described to it (a description or examples),
    and not the spam route (the spam decision alone files mail in Junk: a model's guess must not put a
    person's mail there). A route with
    neither is reached by its rules, which may guard it: the shipped urgent route drafts a reply, and
    its rule keeps out mail that might be spam; offered by its name, a scam the rule kept out could be
    routed there by the model's guess, which the mail's own words can steer. A route that drafts or
    sends a reply (task.writes_mail) is offered only for mail from someone the person wrote to
    (`signals.correspondent`): the reply goes to whoever wrote it. Nor a route the person refused for it
    (rules.refused: the one whose filing of this very mail they undid, those refused for its list)."""
    from ..task import takes, writes_mail
    from .rules import refused
    from .spam_policy import spam_route_name

    spam_route = spam_route_name(config)
    task_type = str(task.get("type", ""))
    known = bool((signals or {}).get("correspondent"))
    undone = refused(signals or {})
    routes = []
    for name, route in config.routes.items():
        about = route.get("description") or "; ".join(route.get("examples", [])[:3])
        if about and name not in RESERVED and takes(route, task_type) and name != spam_route and name not in undone \
                and (known or not writes_mail(route)):
            routes.append({"name": name, "about": about})
    return routes


class LlmFallback:
    def __init__(self, config: Config, model: str):
        from ..ai.models import Models

        self.config = config
        self.model = model
        self.models = Models(config)

    def choose(self, task: dict[str, Any], intent: dict[str, Any]) -> dict[str, Any]:
        """The intent after asking the model: a route (by "llm:MODEL"), or still "fallback"."""
        from ..ai import templates
        from ..ai.running import run_prompt
        from .intent import task_text

        routes = route_list(self.config, task, intent.get("signals"))
        if not routes:
            return {**intent, "reason": f"no route is described to the fallback model (a description or examples) "
                                        f"that takes a {task.get('type')}"}
        template = templates.load(TEMPLATE, self.config.home)
        names = [r["name"] for r in routes]
        schema = copy.deepcopy(template.output) or {"type": "object", "required": ["route"]}
        schema.setdefault("properties", {})["route"] = {"enum": [*names, "none"]}
        messages = template.render(task=task, data=task.get("data") or {}, routes=routes,
                                   text=task_text(task)[:1500])
        prompt = {"messages": messages, "schema": schema, "model": self.model,
                  "options": {"temperature": template.temperature, "max_tokens": template.max_tokens}}
        result = run_prompt(prompt, self.models)
        answer = result["parsed"]["route"]
        evidence = {"model": result["model"], "answer": answer, "ms": result["ms"]}
        if answer == "none":
            return {**intent, "llm": evidence, "reason": f"model {result['model']} found no fitting route"}
        return {**intent, "route": answer, "by": f"llm:{result['model']}", "llm": evidence}
