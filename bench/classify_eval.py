"""The accuracy of the intent model `assist classify train` makes (decide/intent.py LABELLED) on the shared
data sets (run by `scripts/bench classify_eval`; ~8 minutes).

    CLINC150   train on train.jsonl and half of val.jsonl (the threshold from 5-fold out-of-fold predictions
               over those), report on the other half of val.jsonl, with the operating curve
    Banking77  train on 80% of train.jsonl (threshold fitted out of fold), report on the held-back 20%
    SLURP      5-fold cross-validation on devel.jsonl (threshold fitted out of fold in each fold)

A held-out split, when you have one (JSON lines of {"text", "label"} as the shared files, or of [text,
label]; or CLINC150's own data_full.json, its test and oos_test lists), is reported on instead, with the
model trained on all of the shared split:

    --clinc-test FILE     CLINC150's test split: trained on train.jsonl and val.jsonl (threshold out of fold)
    --banking-test FILE   Banking77's test split: trained on train.jsonl
    --slurp-test FILE     SLURP's test split: trained on devel.jsonl

Reads ../shared/data and stops, saying so, when it is absent. Thresholds are never fitted on the data
they are reported on. "in-scope acc" counts a rejected in-scope text (below the threshold) as wrong;
"top-1 acc" is the best label without a threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(path: Path) -> tuple[list[str], list[str]]:
    """(texts, labels) of JSON lines of {"text", "label"} (the shared files) or of [text, label]; or of
    CLINC150's own data_full.json (its "test" and "oos_test" lists). A line of another shape stops the
    run, naming it."""
    content = path.read_text(encoding="utf-8")
    whole = _parsed(content)
    if isinstance(whole, dict) and isinstance(whole.get("test"), list):  # CLINC150's data_full.json
        rows = [(f"entry {n} of test and oos_test", row)
                for n, row in enumerate(whole["test"] + whole.get("oos_test", []), 1)]
    else:
        rows = [(f"line {n}", _parsed(line)) for n, line in enumerate(content.splitlines(), 1) if line.strip()]
    texts, labels = [], []
    for where, row in rows:
        if isinstance(row, dict) and isinstance(row.get("text"), str) and isinstance(row.get("label"), str):
            row = [row["text"], row["label"]]
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(x, str) for x in row)):
            sys.exit(f'bench/classify_eval.py: {path}: {where} is not {{"text": ..., "label": ...}} '
                     "nor [text, label]")
        texts.append(row[0])
        labels.append(row[1])
    return texts, labels


def _parsed(text: str) -> Any:
    """A text's JSON value, None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def shown(value: float | None) -> str:
    """A measure to four places, or "-" where there was nothing to measure."""
    return "-" if value is None else f"{value:.4f}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, split in (("clinc", "CLINC150's test split"), ("banking", "Banking77's test split"),
                        ("slurp", "SLURP's test split")):
        parser.add_argument(f"--{name}-test", type=Path, metavar="FILE",
                            help=f"{split} to report on, the model trained on all of the shared split")
    args = parser.parse_args()
    for given in (args.clinc_test, args.banking_test, args.slurp_test):
        if given is not None and not given.is_file():
            sys.exit(f"bench/classify_eval.py: {given} is not a file")
    return args


def main() -> None:
    args = parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench/classify_eval.py: {DATA} is absent; the data sets are not part of the repository")
    from functools import partial

    from assist.decide.embedder import Embedder
    from assist.decide.intent import LABELLED, evaluate
    from assist.decide.intent import train as fit

    embed = Embedder().embed
    train = partial(fit, recipe=LABELLED)  # what `assist classify train` makes: the texts' words read too
    rng = np.random.RandomState(0)
    report = {}

    start = time.perf_counter()
    texts, labels = load(DATA / "clinc150" / "train.jsonl")
    val_texts, val_labels = load(DATA / "clinc150" / "val.jsonl")
    val_vectors = embed(val_texts)
    if args.clinc_test:
        model = train(embed(texts), labels, val_vectors, val_labels, texts=texts, val_texts=val_texts)
        rep_texts, rep_labels = load(args.clinc_test)
        rep_vectors, where = embed(rep_texts), f"{args.clinc_test} (trained on all of train and val)"
    else:
        order = rng.permutation(len(val_texts))
        fit_idx, rep_idx = order[: len(order) // 2], order[len(order) // 2:]
        model = train(embed(texts), labels, val_vectors[fit_idx], [val_labels[i] for i in fit_idx],
                      texts=texts, val_texts=[val_texts[i] for i in fit_idx])
        rep_vectors, rep_labels, where = val_vectors[rep_idx], [val_labels[i] for i in rep_idx], "the report half"
        rep_texts = [val_texts[i] for i in rep_idx]
    report["CLINC150"] = evaluate(model, rep_vectors, rep_labels, rep_texts)
    report["CLINC150"]["oos_examples"] = sum(label == "oos" for label in rep_labels)
    report["CLINC150"]["seconds"] = round(time.perf_counter() - start, 1)

    start = time.perf_counter()
    texts, labels = load(DATA / "banking77" / "train.jsonl")
    vectors = embed(texts)
    if args.banking_test:
        model = train(vectors, labels, texts=texts)
        test_texts, test_labels = load(args.banking_test)
        report["Banking77"] = evaluate(model, embed(test_texts), test_labels, test_texts)
    else:
        order = rng.permutation(len(texts))
        cut = int(len(order) * 0.8)
        model = train(vectors[order[:cut]], [labels[i] for i in order[:cut]], texts=[texts[i] for i in order[:cut]])
        report["Banking77"] = evaluate(model, vectors[order[cut:]], [labels[i] for i in order[cut:]],
                                       [texts[i] for i in order[cut:]])
    report["Banking77"]["seconds"] = round(time.perf_counter() - start, 1)

    start = time.perf_counter()
    texts, labels = load(DATA / "slurp" / "devel.jsonl")
    vectors = embed(texts)
    if args.slurp_test:
        model = train(vectors, labels, texts=texts)
        test_texts, test_labels = load(args.slurp_test)
        report["SLURP"] = evaluate(model, embed(test_texts), test_labels, test_texts)
        report["SLURP"]["seconds"] = round(time.perf_counter() - start, 1)
    else:
        report["SLURP"] = slurp_folds(vectors, labels, texts, train, evaluate)
        report["SLURP"]["seconds"] = round(time.perf_counter() - start, 1)

    print(f"{'data set':12}{'examples':>10}{'in-scope acc':>14}{'top-1 acc':>11}{'macro-F1':>10}{'OOS recall':>12}"
          f"{'OOS prec':>10}")
    for name, r in report.items():  # "-": not measured (a data set with no out-of-scope texts, or none rejected)
        print(f"{name:12}{r['examples']:>10}{r['in_scope_accuracy']:>14.4f}{r['top1_accuracy']:>11.4f}"
              f"{shown(r.get('macro_f1')):>10}{shown(r.get('oos_recall')):>12}{shown(r.get('oos_precision')):>10}")
    clinc = report["CLINC150"]
    print(f"\nCLINC150 operating curve on {where} (threshold: in-scope accuracy / OOS recall):")
    for point in clinc["curve"]:
        print(f"  {point['threshold']:.2f}: {point['in_scope_accuracy']:.4f} / {shown(point['oos_recall'])}")
    if clinc["oos_recall"] is None:
        verdict = "not measured: no out-of-scope texts (label \"oos\") to report on"
    else:
        met = clinc["in_scope_accuracy"] >= 0.955 and clinc["oos_recall"] >= 0.55
        verdict = f"{'met' if met else 'NOT met'}; {clinc['oos_examples']} OOS texts reported on"
    print(f"CLINC150 targets (issue #19): in-scope accuracy >= 0.955 with OOS recall >= 0.55 ({verdict})")
    print(json.dumps(report, indent=1)[:3000])


def slurp_folds(vectors: Any, labels: list[str], texts: list[str], train: Any, evaluate: Any) -> dict[str, Any]:
    """SLURP by 5-fold cross-validation (a label with fewer than 5 examples left out)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array(labels)
    keep = np.array([np.sum(y == label) >= 5 for label in y])  # 5 folds need 5 examples of a label
    kept = [text for text, k in zip(texts, keep, strict=True) if k]
    accuracies, top1 = [], []
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(vectors[keep], y[keep]):
        model = train(vectors[keep][fit], list(y[keep][fit]), texts=[kept[i] for i in fit])
        result = evaluate(model, vectors[keep][held], list(y[keep][held]), [kept[i] for i in held])
        accuracies.append(result["in_scope_accuracy"])
        top1.append(result["top1_accuracy"])
    return {"examples": int(keep.sum()), "dropped_rare_labels": int((~keep).sum()),
            "in_scope_accuracy": round(float(np.mean(accuracies)), 4),
            "top1_accuracy": round(float(np.mean(top1)), 4), "folds": accuracies}


if __name__ == "__main__":
    main()
