"""Routing of typed requests (run by `scripts/bench ask`, about two minutes): SLURP's calendar, email, lists
and general utterances to the default request routes, mapped by decide/requests.py SLURP_ROUTES:

    calendar_query -> agenda          calendar_set, calendar_remove -> calendar_edit
    email_query, email_querycontact -> search_mail      email_sendemail -> draft_email
    lists_createoradd, lists_remove, email_addcontact -> note      lists_query -> find_notes
    general_quirky, general_joke, general_greet -> chat  (every other scenario: out of scope)

The request model learns from the routes' own examples and the packaged ones: SLURP's devel split and
CLINC150's calendar, list and small-talk intents (decide/requests.py). On devel the figure that counts is
5-fold cross-validation: each fold's SLURP utterances classified by a model made by the shipped recipe
(decide/requests.py REQUESTS) from everything else, averaged over three fold splits (one split's figure
moves by about half a point with the split). `--test FILE` (SLURP's JSON lines: text, label,
scenario) classifies another split with the model trained on all the packaged examples, as `assist ask`
would. A request no route is sure of is answered by `chat`: that counts as right for a general
utterance, as wrong for the others. Reported: the share of in-scope utterances routed right (target >=
90%), the share sent to chat, the share of out-of-scope utterances (weather, music...) answered by chat,
and the same for other weights of the out-of-scope examples (the recipe's trade-off).
Reads ../shared/data/slurp and stops, saying so, when it is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from assist.decide.intent import IntentModel, Recipe

SEEDS = (0, 1, 2)  # fold splits: one split's figure moves by about half a point with the split
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "slurp" / "devel.jsonl"


def routes_examples() -> list[tuple[str, str]]:
    """The request routes' own examples in the checkout's assist.toml."""
    import tomllib

    raw = tomllib.loads((Path(__file__).resolve().parents[1] / "assist.toml").read_text())
    return [(t, n) for n, r in raw["routes"].items() if r.get("request") for t in r.get("examples", [])]


def decided(model: IntentModel, vectors: Any, texts: list[str]) -> list[str]:
    """Each utterance's route as `assist ask` takes it: the model's, or chat when it is not sure."""
    probs = model.probabilities(vectors, texts)
    return [d["route"] if d["route"] != "fallback" else "chat" for d in (model.decide(row) for row in probs)]


def right_share(truth: list[str], got: list[str]) -> float:
    """The share of in-scope utterances routed right."""
    y, p = np.array(truth), np.array(got)
    return float((p[y != "oos"] == y[y != "oos"]).mean())


def verdict(share: float) -> str:
    return f"{'met' if share >= 0.9 else 'NOT met'}: target 90%"


def report(name: str, truth: list[str], got: list[str], judged: bool = False) -> None:
    y, p = np.array(truth), np.array(got)
    inside = y != "oos"
    right = right_share(truth, got)
    defaulted = float((p[inside] == "chat").mean())
    oos_chat = float((p[~inside] == "chat").mean()) if (~inside).any() else float("nan")
    print(f"{name}: {int(inside.sum())} in-scope utterances, {right:.1%} to the right route"
          f"{f' ({verdict(right)})' if judged else ''}; {defaulted:.1%} answered by chat; "
          f"{oos_chat:.1%} of {int((~inside).sum())} out-of-scope ones answered by chat")
    per: dict[str, list[int]] = {}
    for t, g in zip(y[inside], p[inside], strict=True):
        per.setdefault(t, [0, 0])
        per[t][0] += int(t == g)
        per[t][1] += 1
    print("  " + ", ".join(f"{r} {ok}/{n}" for r, (ok, n) in sorted(per.items())))


def cross_validated(recipe: Recipe, own: list[tuple[str, str]], rows: list[dict[str, str]], texts: list[str],
                    labels: list[str], vectors: Any, seed: int = 0) -> list[str]:
    """Each SLURP row's route from a model that did not see it (5-fold; the rest always trained on).
    texts, labels, vectors: of the routes' own examples, then of the rows."""
    from sklearn.model_selection import StratifiedKFold

    from assist.decide.intent import train

    slurp = np.array([i for i, r in enumerate(rows) if r["source"] == "slurp"])
    rest = np.array([i for i, r in enumerate(rows) if r["source"] != "slurp"], dtype=int)
    shift = len(own)  # rows[i] is example shift + i
    got = [""] * len(rows)
    y = np.array([rows[i]["route"] for i in slurp])
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(slurp, y):
        use = np.concatenate([np.arange(shift), shift + slurp[fit], shift + rest])
        model = train(vectors[use], [labels[i] for i in use], name="requests", recipe=recipe,
                      texts=[texts[i] for i in use])
        held_rows = slurp[held]
        routes = decided(model, vectors[shift + held_rows], [texts[shift + i] for i in held_rows])
        for i, route in zip(held_rows, routes, strict=True):
            got[i] = route
    return [got[i] for i in slurp]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=Path, help="another SLURP split to classify with the shipped examples")
    args = parser.parse_args()
    from dataclasses import replace

    from assist.decide.embedder import Embedder
    from assist.decide.intent import train
    from assist.decide.requests import REQUESTS, label, packaged_rows, slurp_route

    own = routes_examples()
    rows = packaged_rows()
    texts = [t for t, _ in own] + [r["text"] for r in rows]
    routes = {n for _, n in own}
    labels = [n for _, n in own] + [label(r, routes) for r in rows]
    embed = Embedder().embed
    vectors = embed(texts)
    if DATA.is_file():
        truth = [r["route"] for r in rows if r["source"] == "slurp"]
        splits = [cross_validated(REQUESTS, own, rows, texts, labels, vectors, seed) for seed in SEEDS]
        report("SLURP devel, 5-fold cross-validation (fold split 0)", truth, splits[0])
        shares = [right_share(truth, got) for got in splits]
        mean = sum(shares) / len(shares)
        print(f"  over {len(SEEDS)} fold splits: {', '.join(f'{s:.1%}' for s in shares)}; "
              f"mean {mean:.1%} ({verdict(mean)})")
        for weight in (0.5, 1.0):
            recipe = replace(REQUESTS, oos_weight=weight)
            report(f"  the same with out-of-scope examples weighted {weight} (shipped: {REQUESTS.oos_weight})",
                   truth, cross_validated(recipe, own, rows, texts, labels, vectors))
    else:
        print(f"bench/ask.py: {DATA} is absent; the cross-validation on SLURP devel is skipped")
    if args.test:
        tests = [json.loads(line) for line in args.test.read_text().splitlines() if line.strip()]
        model = train(vectors, labels, name="requests", recipe=REQUESTS, texts=texts)
        test_texts = [r["text"] for r in tests]
        report(f"{args.test} with all the packaged examples",
               [slurp_route(r["label"], r["scenario"]) for r in tests], decided(model, embed(test_texts), test_texts),
               judged=True)
    if not DATA.is_file() and not args.test:
        sys.exit(1)


if __name__ == "__main__":
    main()
