"""Building a task's prompt (`assist prompt`): the route's template rendered over the task and the
context found in memory, fitted to the chosen model's context window.

A prompt that does not fit is cut on purpose, in this order: the least similar context chunks are
dropped, then the longest text fields of `data` are shortened (each marked where it was cut). What was
cut is recorded in `prompt.cut` and logged; a template that cannot fit even with empty fields fails the
task with the numbers.

A chunk of the memory that writes to the assistant (ai/written_to_the_assistant.py: a downloaded
document, a note quoting a mail) is no context: it is left out and named in `prompt.context_left_out`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import PermanentError
from . import templates
from .mail_view import mail_view
from .models import Models
from .written_to_the_assistant import written_to_the_assistant

if TYPE_CHECKING:
    from ..config import Config

MIN_FIELD = 200  # fields shorter than this are never cut
REPLY_MARGIN = 8  # tokens kept free beyond max_tokens


def _cut_strings(data: Any, limit: int, cut: list[str], path: str = "data") -> Any:
    if isinstance(data, str) and len(data) > max(limit, MIN_FIELD):
        cut.append(path)
        return data[:limit].rstrip() + f" […cut {len(data) - limit} characters]"
    if isinstance(data, dict):
        return {k: _cut_strings(v, limit, cut, f"{path}.{k}") for k, v in data.items()}
    if isinstance(data, list):
        return [_cut_strings(v, limit, cut, f"{path}[{i}]") for i, v in enumerate(data)]
    return data


def _longest(data: Any) -> int:
    if isinstance(data, str):
        return len(data)
    if isinstance(data, dict):
        return max((_longest(v) for v in data.values()), default=0)
    if isinstance(data, list):
        return max((_longest(v) for v in data), default=0)
    return 0


def with_proposals(schema: dict[str, Any], item: dict[str, Any] | None) -> dict[str, Any]:
    """A template's output schema whose `actions` (if it has them) are made of `item`, the route's own
    proposal schema; without one, the reply has no `actions` at all."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or "actions" not in properties:
        return schema
    out = {**schema, "properties": dict(properties)}
    if item is None:
        del out["properties"]["actions"]
        out["required"] = [r for r in schema.get("required", []) if r != "actions"]
        return out
    declared = properties["actions"] if isinstance(properties["actions"], dict) else {}
    out["properties"]["actions"] = {"type": "array", "maxItems": int(declared.get("maxItems", 3)), "items": item}
    return out


class PromptBuilder:
    def __init__(self, config: Config, models: Models | None = None, memory: Any = None,
                 proposals: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None):
        """`proposals(route, task)`: the schema of one action the route lets a model propose for the task
        (act/plan.py)."""
        self.config = config
        self.proposals = proposals
        self.models = models or Models(config)
        self._memory = memory
        self._said_damaged = False
        self._memory_lock = threading.Lock()

    def memory(self) -> Any:
        """One store per process: `assist work -j N` shares this builder between its workers, and a second
        chroma client would keep the store as it was when the first opens it again (memory.py)."""
        with self._memory_lock:
            if self._memory is None:
                from .memory import Memory

                self._memory = Memory(self.config)
            return self._memory

    def context_for(self, task: dict[str, Any], template: templates.Template,
                    route: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the memory's chunks for the task, those left out because they write to the assistant: a
        downloaded document or a quoted mail in the memory would steer every prompt it is found for)."""
        settings = {**template.context, **route.get("context", {})}
        k = int(settings.get("k", 0))
        if k <= 0:
            return [], []
        from ..decide.intent import task_text

        text = task_text(task)
        if not text:
            return [], []
        from .memory import MemoryDamaged

        try:
            found = self.memory().query(text, k=k, max_distance=settings.get("max_distance", 0.7))
        except MemoryDamaged as exc:  # context, not the mail: the prompt goes on without it
            if not self._said_damaged:
                self._said_damaged = True
                sys.stderr.write(f"assist prompt: {exc}; prompts go on without it\n")
            return [], []
        chunks = [{"id": c["id"], "text": c["text"], "source": c["source"], "title": c["title"],
                   "score": round(1 - c["distance"], 4)} for c in found]
        written = [written_to_the_assistant([c["title"], c["text"]]) for c in chunks]
        return ([c for c, w in zip(chunks, written, strict=True) if not w],
                [c for c, w in zip(chunks, written, strict=True) if w])

    def user(self) -> dict[str, str]:
        """`user` for a template: the person assist works for, as their mail says it ([actions.smtp] from:
        `name`, maybe empty, and `address`), so a draft is written as them and signed with their name."""
        from email.utils import parseaddr

        name, address = parseaddr(str(self.config.action_section("smtp").get("from") or ""))
        return {"name": name, "address": address}

    def build(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """The `prompt` section for the task, or None when its route has no template (nothing to ask)."""
        route_name, route = self.config.route_of(task)
        name = route.get("template")
        if not name:
            return None
        template = templates.load(name, self.config.home)
        model_name = self.models.chain(route.get("model") or template.model, route.get("tags"))[0]
        backend = self.models.get(model_name)
        budget = backend.context - template.max_tokens - REPLY_MARGIN
        context, left_out = self.context_for(task, template, route)
        data = task.get("data") or {}
        user = self.user()

        def render(data: Any, context: list[dict[str, Any]]) -> tuple[list[dict[str, str]], int]:
            mail = mail_view(data) if isinstance(data, dict) else {}
            messages = template.render(task=task, data=data, intent=task.get("intent") or {}, context=context,
                                       mail=mail, user=user)
            return messages, backend.count_messages(messages)

        messages, tokens = render(data, context)
        first_count = tokens
        cut: dict[str, Any] = {}
        dropped = 0
        while tokens > budget and context:
            context = context[:-1]
            dropped += 1
            messages, tokens = render(data, context)
        if tokens > budget:
            low, high, best = 0, _longest(data), None
            while low <= high:  # the longest field length that still fits
                mid = (low + high) // 2
                fields: list[str] = []
                trial = _cut_strings(data, mid, fields)
                trial_messages, trial_tokens = render(trial, context)
                if trial_tokens <= budget:
                    best = (mid, fields, trial_messages, trial_tokens)
                    low = mid + 1
                else:
                    high = mid - 1
            if best is None:
                raise PermanentError(f"template {name}: the prompt needs more than the {budget} tokens model "
                                     f"{model_name} has for it even with its text fields emptied ({tokens} as it is; "
                                     f"context {backend.context} - max_tokens {template.max_tokens})")
            kept, fields, messages, tokens = best
            cut["fields"] = fields
            cut["kept_chars"] = kept
        if dropped or cut:
            cut.update(tokens_before=first_count, tokens=tokens, limit=budget, context_dropped=dropped)
        section: dict[str, Any] = {
            "template": name, "route": route_name, "model": model_name, "messages": messages,
            "context": [{k: c[k] for k in ("id", "source", "title", "score")} for c in context],
            "options": {"temperature": template.temperature, "max_tokens": template.max_tokens},
            "tokens": tokens,
        }
        if left_out:
            section["context_left_out"] = [{k: c[k] for k in ("id", "source", "title")} for c in left_out]
        if template.output is not None:
            proposal = self.proposals(route, task) if self.proposals else None
            section["schema"] = with_proposals(template.output, proposal)
        if template.grounded:
            section["grounded"] = list(template.grounded)
        if route.get("tags"):
            section["tags"] = list(route["tags"])
        if cut:
            section["cut"] = cut
        return section
