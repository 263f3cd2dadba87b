"""Routing of typed requests (run by `scripts/bench ask`, about a minute): SLURP's calendar, email, lists
and general utterances to the default request routes, mapped by decide/requests.py SLURP_ROUTES:

    calendar_query -> agenda          calendar_set, calendar_remove -> calendar_edit
    email_query, email_querycontact -> search_mail      email_sendemail -> draft_email
    lists_createoradd, lists_remove, email_addcontact -> note      lists_query -> find_notes
    general_quirky, general_joke, general_greet -> chat  (every other scenario: out of scope)

The request model learns from the routes' own examples and the packaged ones, which are SLURP's devel
split: on devel the figure that counts is 5-fold cross-validation (each fold's utterances classified by a
model that did not see them). `--test FILE` (SLURP's JSON lines: text, label, scenario) classifies
another split with the model trained on all the packaged examples, as `assist ask` would. A request no
route is sure of is answered by `chat`: that counts as right for a general utterance, as held (wrong)
for the others. Reported: the share of in-scope utterances routed right (target >= 90%), the share
sent to chat by default, and the share of out-of-scope utterances (weather, music...) answered by chat.
Reads ../shared/data/slurp and stops, saying so, when it is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "slurp" / "devel.jsonl"


def routes_examples() -> list[tuple[str, str]]:
    """The request routes' own examples in the checkout's assist.toml."""
    import tomllib

    raw = tomllib.loads((Path(__file__).resolve().parents[1] / "assist.toml").read_text())
    return [(t, n) for n, r in raw["routes"].items() if r.get("request") for t in r.get("examples", [])]


def decided(model, vectors) -> list[str]:  # type: ignore[no-untyped-def]
    """Each utterance's route as `assist ask` takes it: the model's, or chat when it is not sure."""
    probs = model.probabilities(vectors)
    return [d["route"] if d["route"] != "fallback" else "chat" for d in (model.decide(row) for row in probs)]


def report(name: str, truth: list[str], got: list[str]) -> None:
    y, p = np.array(truth), np.array(got)
    inside = y != "oos"
    right = float((p[inside] == y[inside]).mean())
    defaulted = float((p[inside] == "chat").mean())
    oos_chat = float((p[~inside] == "chat").mean()) if (~inside).any() else float("nan")
    print(f"{name}: {int(inside.sum())} in-scope utterances, {right:.1%} to the right route "
          f"({'met' if right >= 0.9 else 'NOT met'}: target 90%); {defaulted:.1%} answered by chat; "
          f"{oos_chat:.1%} of {int((~inside).sum())} out-of-scope ones answered by chat")
    per = {}
    for t, g in zip(y[inside], p[inside], strict=True):
        per.setdefault(t, [0, 0])
        per[t][0] += int(t == g)
        per[t][1] += 1
    print("  " + ", ".join(f"{r} {ok}/{n}" for r, (ok, n) in sorted(per.items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=Path, help="another SLURP split to classify with the shipped examples")
    args = parser.parse_args()
    from sklearn.model_selection import StratifiedKFold

    from assist.decide.embedder import Embedder
    from assist.decide.intent import train
    from assist.decide.requests import PACKAGED, slurp_route

    own = routes_examples()
    packaged = [json.loads(line) for line in PACKAGED.read_text().splitlines()]
    texts, truth = [r["text"] for r in packaged], [r["route"] for r in packaged]
    embed = Embedder().embed
    vectors, own_vectors = embed(texts), embed([t for t, _ in own])
    own_labels = [n for _, n in own]
    if DATA.is_file():
        got = [""] * len(texts)
        y = np.array(truth)
        for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, y):
            model = train(np.vstack([own_vectors, vectors[fit]]), own_labels + list(y[fit]), name="requests")
            for i, route in zip(held, decided(model, vectors[held]), strict=True):
                got[i] = route
        report("SLURP devel, 5-fold cross-validation", truth, got)
    else:
        print(f"bench/ask.py: {DATA} is absent; the cross-validation on SLURP devel is skipped")
    if args.test:
        rows = [json.loads(line) for line in args.test.read_text().splitlines() if line.strip()]
        model = train(np.vstack([own_vectors, vectors]), own_labels + truth, name="requests")
        report(f"{args.test} with all the packaged examples",
               [slurp_route(r["label"], r["scenario"]) for r in rows], decided(model, embed([r["text"] for r in rows])))
    if not DATA.is_file() and not args.test:
        sys.exit(1)


if __name__ == "__main__":
    main()
