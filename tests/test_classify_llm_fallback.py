"""The classify fallback through the embedded language model (`[classify] fallback_model`)."""

from __future__ import annotations

from conftest import jsonl

ROUTES = """
[classify]
fallback_model = "embedded"
[routes.weather]
description = "questions about the weather forecast, rain, temperature"
[routes.alarm]
description = "setting, changing or cancelling an alarm clock"
"""

TEXTS = ["will it rain in Paris tomorrow", "wake me up at 6:30 tomorrow", "what is the capital of Peru",
         "is it going to be cold this weekend"]


def tasks() -> bytes:
    return jsonl(*({"type": "text", "data": {"text": t}} for t in TEXTS))


def test_unplaced_tasks_are_routed_by_the_model_or_held(llm_home, cli):
    with (llm_home / "assist.toml").open("a") as f:
        f.write(ROUTES)
    assert cli(["config", "check"]).code == 0
    result = cli(["classify"], input=tasks())
    assert result.code == 0, result.err
    routed = {t["data"]["text"]: t["intent"] for t in result.lines}
    held = [p for p in (llm_home / "spool" / "classify" / "hold").glob("*.json")]
    assert len(routed) + len(held) == len(TEXTS)  # every task either routed on or held: nothing lost
    assert routed, "the model placed no task at all"
    for intent in routed.values():
        assert intent["route"] in ("weather", "alarm")  # only a configured route can come back
        assert intent["by"] == "llm:embedded" and intent["llm"]["model"] == "embedded"
        assert intent["llm"]["answer"] == intent["route"]


def test_a_missing_fallback_model_is_a_config_error(home, cli):
    with (home / "assist.toml").open("a") as f:
        f.write(ROUTES.replace('"embedded"', '"nope"'))
    result = cli(["config", "check"])
    assert result.code == 78 and "classify.fallback_model: no model 'nope'" in result.err


def test_a_fallback_model_not_pulled_stops_classify_and_keeps_the_tasks(home, cli):
    with (home / "assist.toml").open("a") as f:
        f.write(ROUTES)  # the embedded model is configured but its file is not there
    result = cli(["classify"], input=tasks())
    assert result.code == 69 and "Traceback" not in result.err
    assert "assist models pull" in result.err
    kept = list((home / "spool" / "classify" / "new").glob("*.json"))  # as they came, for the next run
    assert len(kept) == len(TEXTS)
    assert not list((home / "spool" / "classify" / "failed").glob("*.json"))
