"""An estimate of what the shipped spam model does on mail it never saw, for `scripts/bench mail`.

The halves of bench/mail.py measure the whole of classify through the real commands, but each half's
spam model learns from 300 messages (100 spam) where the shipped one learns from 600: out of sample on
this corpus, a model trained on a quarter, a half, three quarters and nine tenths of it filed 62%, 78%,
87% and 89% of the spam it did not see (three shuffles, no person correcting). So the halves understate
the shipped model. This estimate follows one person through all 600 messages in the bench's order, each
message judged by the shipped policy (decide/spam_policy.py: the spam route's threshold, "might be
spam" held, spamd's verdict with the model's agreement) with a model trained as the shipped one is on
the nine tenths of the corpus the message is not in (ten folds, and all of bench/data/other-mail),
moved towards every correction the person made so far as classify's retraining moves it
(decide/spam.py adjust, learning.CORRECTION_STRENGTH). The person corrects what is held, with its true
label; nothing else is simulated (no rules, no intent model, no moves in a mail client), so it speaks of
the spam decision only. The same simulation on the halves is printed beside it: on 2026-12-03 it gave
the real run of the halves to the message (174 and 187 of 200 spam in Junk, 27 and 13 held).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

FOLDS = 10


def decide(stream: list[tuple[dict[str, Any], bool, int, int]], bases: list[Any], spamd: bool) -> dict[str, int]:
    """`judge` with a home of its own (the person's correspondents and junked senders), removed after."""
    with tempfile.TemporaryDirectory(prefix="assist-bench-folds-") as home:
        return judge(stream, bases, spamd, Path(home))


def judge(stream: list[tuple[dict[str, Any], bool, int, int]], bases: list[Any], spamd: bool,
          home: Path) -> dict[str, int]:
    """Each (mail's data, is spam, fold, place in the bench's order) through SpamPolicy with its fold's
    model moved by the corrections so far: how many spam were filed in Junk, ham filed there, held, and
    the same from the bench's 101st message on."""
    from assist.correspondents import Correspondents, sender_key
    from assist.decide.learning import CORRECTION_STRENGTH
    from assist.decide.spam import adjust
    from assist.decide.spam_policy import DEFAULT_HOLD, DEFAULT_ROUTE, DEFAULT_THRESHOLD, SpamPolicy
    from assist.junked import Junked

    people, junked = Correspondents(home), Junked(home)
    corrected: list[dict[str, Any]] = []
    labels: list[bool] = []
    said: dict[str, bool] = {}  # sender -> spam, the person's latest word (learning.SendersNotSpam)
    models: dict[int, tuple[int, Any]] = {}  # fold -> (corrections it has learned, its model)
    counts = dict.fromkeys(("spam", "caught", "ham_in_junk", "held", "spam_after", "caught_after", "held_after",
                            "n_after"), 0)
    for data, spam, fold, n in stream:
        if models.get(fold, (-1, None))[0] != len(corrected):
            models[fold] = (len(corrected),
                            adjust(bases[fold], corrected, labels, CORRECTION_STRENGTH) if corrected else bases[fold])
        not_spam = frozenset(sender for sender, is_spam in said.items() if not is_spam)
        policy = SpamPolicy(DEFAULT_ROUTE, DEFAULT_THRESHOLD, DEFAULT_HOLD, models[fold][1], spamd, people, junked,
                            not_spam)
        _, intent = policy.judge(data)
        route = intent["route"] if intent else "rules"
        after = n >= 100
        counts["spam"] += spam
        counts["caught"] += spam and route == DEFAULT_ROUTE
        counts["ham_in_junk"] += not spam and route == DEFAULT_ROUTE
        counts["held"] += route == "fallback"
        counts["n_after"] += after
        counts["spam_after"] += spam and after
        counts["caught_after"] += spam and after and route == DEFAULT_ROUTE
        counts["held_after"] += after and route == "fallback"
        if route == "fallback":  # the person gives it its true label, and the model learns it
            corrected.append(data)
            labels.append(spam)
            sender = sender_key(data)
            if sender:
                said[sender] = spam
    return counts


def trained_bases(rows: list[tuple[dict[str, Any], bool]], folds: list[int],
                  others: list[list[dict[str, Any]]]) -> list[Any]:
    """Fold k's model, trained as the shipped one is on the rows not in fold k and others[k]."""
    from assist.decide.spam import train

    return [train([d for n, (d, _) in enumerate(rows) if folds[n] != k] + extra,
                  [s for n, (_, s) in enumerate(rows) if folds[n] != k] + [False] * len(extra))
            for k, extra in enumerate(others)]


def estimate(order: list[tuple[bytes, str]], spamd_address: str | None, others: list[list[dict[str, Any]]]) -> None:
    """Print the estimate (module docstring) with and without spamd, and the same on the halves."""
    from assist.config import Config
    from assist.ingest.mail import mail_data

    raw = {"classify": {"spamd": spamd_address}} if spamd_address else {}
    config = Config(home=Path(tempfile.gettempdir()), path=None, raw=raw)
    rows = [(mail_data(message, config), kind == "spam") for message, kind in order]
    tenths = [n % FOLDS for n in range(len(rows))]
    halves = [n % 2 for n in range(len(rows))]
    bases = {"ten folds, one person": (tenths, trained_bases(rows, tenths, [others[0] + others[1]] * FOLDS)),
             "halves, a person each": (halves, trained_bases(rows, halves, [others[1], others[0]]))}
    print("\nthe spam decision alone, simulated (bench/_spam_folds.py): each message judged by a model trained on "
          "the rest of the corpus but its fold, corrected as the person goes")
    print(f"{'':34} {'spam in Junk':>16} {'ham in Junk':>11} {'held':>10} {'after the first 100: spam, held':>34}")
    for name, (folds, models) in bases.items():
        for spamd in (False, True) if spamd_address else (False,):
            if name.startswith("halves"):
                parts = [decide([(d, s, k, n) for n, (d, s) in enumerate(rows) if folds[n] == k], models, spamd)
                         for k in (0, 1)]
                c = {key: parts[0][key] + parts[1][key] for key in parts[0]}
            else:
                c = decide([(d, s, folds[n], n) for n, (d, s) in enumerate(rows)], models, spamd)
            label = f"{name}{' + spamd' if spamd else ''}"
            print(f"  {label:32} {c['caught']:>5}/{c['spam']} ({c['caught'] / c['spam']:.1%}) {c['ham_in_junk']:>11} "
                  f"{c['held']:>4} ({c['held'] / len(rows):.1%}) "
                  f"{c['caught_after']:>12}/{c['spam_after']} ({c['caught_after'] / max(1, c['spam_after']):.0%}), "
                  f"{c['held_after'] / max(1, c['n_after']):.1%}")
