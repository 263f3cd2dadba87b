"""Any bytes as a mail through the decision before the intent model: the spam model's features and
probability, the spam decision (decide/spam_policy.py) and the default rules of the shipped assist.toml."""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist.correspondents import Correspondents
    from assist.decide.rules import first_match
    from assist.decide.spam import shipped, tokens
    from assist.decide.spam_policy import DEFAULT_HOLD, DEFAULT_ROUTE, DEFAULT_THRESHOLD, SpamPolicy
    from assist.ingest.mail import parse_message
    from assist.junked import Junked
    from assist.task import normalize

MOST_FEATURES = 12_000  # the body's first 4,000 characters, 50 words of subject, 12 of each header (and pairs, runs)
HOME = Path(tempfile.mkdtemp(prefix="fuzz-decide-"))
RULES = tomllib.loads((_common.REPO / "assist.toml").read_text())["rules"]
POLICY = SpamPolicy(DEFAULT_ROUTE, DEFAULT_THRESHOLD, DEFAULT_HOLD, shipped(), False, Correspondents(HOME),
                    Junked(HOME))


def test(data: bytes) -> None:
    mail = parse_message(data)
    assert len(tokens(mail)) <= MOST_FEATURES
    signals, intent = POLICY.judge(mail)
    assert 0.0 <= signals["spam"] <= 1.0
    assert intent is None or intent["route"] in (DEFAULT_ROUTE, "fallback"), intent
    task = normalize({"type": "email.received", "data": mail}, source="fuzz:decide")
    first_match(RULES, {**task, "signals": signals})


if __name__ == "__main__":
    _common.fuzz(test)
