"""Any bytes as a JSON line a stage reads (a task document is untrusted: its data, intent, result and
meta are whatever its writer made them), through classify's decision with the shipped assist.toml (the
spam decision, the rules, the intent model and the request model) and the planner: a decision is a
configured route or a hold, never an exception, and the plan refuses what the route does not allow."""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist import jsonl
    from assist.act.plan import plan
    from assist.config import Config
    from assist.decide.engine import DecisionEngine
    from assist.task import normalize

SHIPPED = tomllib.loads((_common.REPO / "assist.toml").read_text())
CONFIG = Config(home=Path(tempfile.mkdtemp(prefix="fuzz-task-")), path=None, raw=SHIPPED)
ENGINE = DecisionEngine(CONFIG)
ENGINE.decide([{"id": "warm", "type": "text", "data": {"text": "warm the models up"}},  # trains them once
               {"id": "warm2", "type": "request", "data": {"text": "what is on my calendar"}}])


def test(data: bytes) -> None:
    value = jsonl.parse_task(jsonl.Line(1, data.split(b"\n")[0]))
    if value is None or isinstance(value, jsonl.BadLine):
        return
    task = normalize(value, source="stdin")  # as a stage takes a line (stages/runner.py)
    [intent] = ENGINE.decide([task])
    assert intent["route"] == "fallback" or intent["route"] in CONFIG.routes, intent
    decided = {**task, "intent": intent}
    rules = CONFIG.routes.get(intent["route"], {})
    allowed, confirm = set(rules.get("actions", [])), set(rules.get("confirm", []))
    for action in plan(decided, CONFIG):
        assert action["status"] == "refused" or action["type"] in allowed | confirm, action
        assert action["type"] not in confirm or action["status"] != "planned", action
    jsonl.dumps(decided)


if __name__ == "__main__":
    _common.fuzz(test)
