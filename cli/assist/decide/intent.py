"""The intent model: a logistic-regression head over sentence embeddings, with a confidence threshold
fitted on predictions for examples the head did not see (never on the data it is reported on).

Out-of-scope examples (label "oos") are a class of their own: a text the head finds most like them is
out of scope whatever its best route scores. They may carry a topic ("oos:weather", "oos:music"): the
head then learns each topic as a column of its own and the model sums those columns into the one
out-of-scope class, since what is out of scope is many unrelated things that one linear class holds
badly (typed requests, bench/ask.py: 0.8 points more in-scope requests right for 1 point fewer
out-of-scope ones caught). The threshold is chosen on out-of-fold predictions over all the labelled data
(k-fold cross-validation), for the best in-scope accuracy that still rejects a share of the
out-of-scope examples (the recipe's, by default MIN_OOS_RECALL + MARGIN): the margin keeps the operating
point on the safe side of a threshold that only just made it on the data it was chosen on.

A Recipe says how a head is made. The default (logistic regression over the embeddings) serves the
routes of mail and events, whose texts a person's corrections do not keep. Typed requests use
decide/requests.py REQUESTS: the embeddings and the hashed words and word pairs of the text
(decide/hashed_words.py), a linear SVM whose margins are turned into probabilities by one temperature
fitted on the out-of-fold predictions, and out-of-scope examples weighted down (bench/ask.py measures
each of these). LABELLED, for labelled texts (`assist classify train`, bench/classify_eval.py), is that
head with out-of-scope examples at full weight and a stricter threshold.

Training needs scikit-learn (the `classify` extra); using a trained model needs only numpy. A model is one
.npz file: weights, bias, class names, threshold and how it was made.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileutil import write_atomic
from . import hashed_words

OOS = "oos"  # the label of out-of-scope examples in training data, alone or as "oos:TOPIC"
MIN_OOS_RECALL = 0.5
MARGIN = 0.05
GRID = tuple(round(0.02 * i, 2) for i in range(1, 48))  # 0.02 .. 0.94
WORD_LIMIT = 200  # words of a text read for word features


@dataclass(frozen=True)
class Recipe:
    """How a head is made: "logistic" regression or a linear "svm" with inverse regularisation c, the
    weight of each out-of-scope example, and how many hashed word features (0: embeddings only). Its
    threshold rejects `oos_recall` of the out-of-scope examples out of fold; with `oos_alone`, by their
    best route's probability alone (choose_threshold)."""
    head: str = "logistic"
    c: float = 10.0
    oos_weight: float = 1.0
    word_features: int = 0
    oos_recall: float = MIN_OOS_RECALL + MARGIN
    oos_alone: bool = False


# Labelled texts (`assist classify train`): the embeddings and the hashed words and word pairs, a linear
# SVM (REQUESTS's head, out-of-scope examples at full weight), and a threshold that rejects 65% of the
# out-of-scope examples by their best route's probability alone: 55% (issue #19's target on unseen
# data) and a margin of 10 points, what that share out of fold overstated val's on CLINC150
# (bench/README.md, classify_eval).
LABELLED = Recipe(head="svm", c=0.5, word_features=1 << 16, oos_recall=0.65, oos_alone=True)


def word_vector(text: str, n_features: int) -> tuple[Any, Any]:
    """The hashed words and word pairs of a text, as (indices, values)."""
    return hashed_words.vector(hashed_words.with_pairs(hashed_words.words(text, WORD_LIMIT)), n_features)


def features(vectors: Any, texts: list[str] | None, n_features: int) -> Any:
    """What a head is trained on: the embeddings, then the hashed words when n_features (scipy CSR)."""
    if not n_features:
        return vectors
    from scipy.sparse import csr_matrix, hstack

    if texts is None or len(texts) != len(vectors):
        raise ValueError("a model with word features needs each example's text")
    words = hashed_words.matrix([word_vector(t, n_features) for t in texts], n_features)
    return hstack([csr_matrix(vectors), words]).tocsr()


def softmax(logits: Any) -> Any:
    import numpy as np

    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def is_oos(label: str) -> bool:
    return label == OOS or label.startswith(OOS + ":")


def scope(label: str) -> str:
    """A training label as the model decides it: "oos:TOPIC" is "oos"."""
    return OOS if is_oos(label) else label


def routes_of(labels: list[str]) -> set[str]:
    """The routes training labels name (not the out-of-scope ones): a model needs two."""
    return {label for label in labels if not is_oos(label)}


@dataclass
class IntentModel:
    classes: list[str]  # what it decides between: routes, and "oos" when it knows out-of-scope examples
    weights: Any  # (dim, columns)
    bias: Any  # (columns,)
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)
    columns: list[str] | None = None  # the head's columns when they differ from classes (out-of-scope topics)

    @property
    def word_features(self) -> int:
        return int(self.meta.get("word_features", 0))

    def probabilities(self, vectors: Any, texts: list[str] | None = None) -> Any:
        """Each row's probability of each class; a model with word features needs the texts too."""
        n = self.word_features
        dim = self.weights.shape[0] - n
        logits = vectors @ self.weights[:dim] + self.bias
        if n:
            if texts is None or len(texts) != len(vectors):
                raise ValueError("this model reads the words of a text too: give the texts")
            for row, text in enumerate(texts):
                idx, val = word_vector(text, n)
                if len(idx):
                    logits[row] += val @ self.weights[dim + idx]
        probs = softmax(logits)
        return probs if self.columns is None else probs @ merging(self.columns, self.classes)

    def in_scope(self, probs: Any) -> tuple[Any, Any]:
        """(best in-scope class index, its probability) per row; the probability is 0 where the
        out-of-scope class is the most likely of all."""
        return best_in_scope(probs, self.classes)

    def decide(self, probs: Any, threshold: float | None = None, top: int = 3,
               route_thresholds: dict[str, float] | None = None) -> dict[str, Any]:
        """intent for one row of probabilities: the route (or fallback), labels with scores, evidence.
        A route's own threshold (`routes.NAME.threshold`) replaces the model's for that route; a class at
        0 (a route that does not take the task, engine.py) is not listed."""
        threshold = self.threshold if threshold is None else threshold
        [index], [best] = self.in_scope(probs[None, :])
        order = [i for i in probs.argsort()[::-1] if self.classes[i] != OOS and probs[i] > 0][:max(top, 5)]
        labels = [{"name": self.classes[i], "score": round(float(probs[i]), 4)} for i in order[:top]
                  if probs[i] >= 0.1 or i == order[0]]
        threshold = (route_thresholds or {}).get(self.classes[index], threshold)
        route = self.classes[index] if best >= threshold else "fallback"
        out = {"route": route, "labels": labels, "by": f"model:{self.meta.get('name', 'intent')}",
               "confidence": round(float(best), 4), "threshold": round(threshold, 4),
               "top": [{"name": self.classes[i], "score": round(float(probs[i]), 4)} for i in order]}
        if OOS in self.classes:
            out["out_of_scope"] = round(float(probs[self.classes.index(OOS)]), 4)
        return out

    def save(self, path: Path) -> None:
        import numpy as np

        path.parent.mkdir(parents=True, exist_ok=True)
        dim = self.weights.shape[0] - self.word_features
        rows = dim + np.flatnonzero(np.abs(self.weights[dim:]).sum(axis=1))  # the words seen in training
        buffer = io.BytesIO()
        np.savez_compressed(buffer, weights=self.weights[:dim], word_rows=rows - dim, word_weights=self.weights[rows],
                            bias=self.bias, classes=np.array(json.dumps(self.classes)),
                            columns=np.array(json.dumps(self.columns)),
                            threshold=np.array(self.threshold), meta=np.array(json.dumps(self.meta)))
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            weights = data["weights"]
            n = int(meta.get("word_features", 0))
            if n:
                words = np.zeros((n, weights.shape[1]), dtype=weights.dtype)
                words[data["word_rows"]] = data["word_weights"]
                weights = np.vstack([weights, words])
            columns = json.loads(str(data["columns"])) if "columns" in data else None
            return cls(json.loads(str(data["classes"])), weights, data["bias"], float(data["threshold"]), meta,
                       columns)


def merging(columns: list[str], classes: list[str]) -> Any:
    """The (columns, classes) 0/1 matrix that sums each class's columns (the out-of-scope topics into "oos")."""
    import numpy as np

    out = np.zeros((len(columns), len(classes)), dtype=np.float32)
    for i, column in enumerate(columns):
        out[i, classes.index(scope(column))] = 1.0
    return out


def best_in_scope(probs: Any, classes: list[str]) -> tuple[Any, Any]:
    import numpy as np

    if OOS not in classes:
        return probs.argmax(axis=1), probs.max(axis=1)
    oos = classes.index(OOS)
    inner = probs.copy()
    inner[:, oos] = -1.0
    index, best = inner.argmax(axis=1), inner.max(axis=1)
    return index, np.where(probs.argmax(axis=1) == oos, 0.0, best)


def operating_curve(probs: Any, classes: list[str], truth: list[str],
                    thresholds: tuple[float, ...] = GRID, alone: bool = False) -> list[dict[str, Any]]:
    """At each threshold: in-scope accuracy (a rejected in-scope text counts as wrong) and the share of
    out-of-scope texts rejected; with `alone`, rejected by their best route's probability alone, not
    where the out-of-scope class wins (choose_threshold)."""
    import numpy as np

    index, conf = best_in_scope(probs, classes)
    pred = np.array(classes)[index]
    y = np.array(truth)
    inscope = y != OOS
    if alone and OOS in classes:
        conf = np.where(inscope, conf, np.delete(probs, classes.index(OOS), axis=1).max(axis=1))
    out = []
    for t in thresholds:
        decided = np.where(conf >= t, pred, OOS)
        out.append({"threshold": t,
                    "in_scope_accuracy": round(float((decided[inscope] == y[inscope]).mean()), 4)
                    if inscope.any() else None,
                    "oos_recall": round(float((decided[~inscope] == OOS).mean()), 4) if (~inscope).any() else None})
    return out


def choose_threshold(probs: Any, classes: list[str], truth: list[str],
                     oos_recall: float = MIN_OOS_RECALL + MARGIN, alone: bool = False) -> float:
    """The threshold with the best in-scope accuracy that rejects oos_recall of the out-of-scope
    examples; without such examples, the one that keeps 97% of the correct answers.

    `alone`: an out-of-scope example counts as rejected only where the threshold rejects it by its best
    route's probability, not where the out-of-scope class wins. Out-of-scope texts in use are often
    unlike every example that class learned from, while out of fold it wins on examples much like those
    it did learn from; so the threshold must hold on its own, and the class catches more on top."""
    import numpy as np

    y = np.array(truth)
    if not (y == OOS).any():
        index, conf = best_in_scope(probs, classes)
        correct = conf[np.array(classes)[index] == y]
        return float(np.quantile(correct, 0.03)) if len(correct) else 0.5
    best = (GRID[-1], -1.0)
    for point in operating_curve(probs, classes, truth, alone=alone):
        if point["oos_recall"] >= oos_recall and point["in_scope_accuracy"] > best[1]:
            best = (point["threshold"], point["in_scope_accuracy"])
    return float(best[0])


def _fit_head(x: Any, labels: Any, recipe: Recipe) -> tuple[list[str], Any, Any]:
    import numpy as np

    weight = np.where([is_oos(str(label)) for label in labels], recipe.oos_weight, 1.0)
    if recipe.head == "svm":
        from sklearn.svm import LinearSVC

        head: Any = LinearSVC(C=recipe.c, random_state=0).fit(x, labels, sample_weight=weight)
    else:
        from sklearn.linear_model import LogisticRegression

        head = LogisticRegression(C=recipe.c, max_iter=3000).fit(x, labels, sample_weight=weight)
    weights, bias = head.coef_.T, head.intercept_
    if len(head.classes_) == 2:  # sklearn keeps one column for two classes: the first class's logit is 0
        weights = np.hstack([np.zeros_like(weights), weights])
        bias = np.concatenate([[0.0], bias])
    return [str(c) for c in head.classes_], weights.astype(np.float32), np.asarray(bias, dtype=np.float32)


def train(vectors: Any, labels: list[str], val_vectors: Any = None, val_labels: list[str] | None = None,
          name: str = "intent", recipe: Recipe = Recipe(), folds: int = 5, texts: list[str] | None = None,
          val_texts: list[str] | None = None) -> IntentModel:
    """Fit the head on all labelled examples (the validation ones too), the out-of-scope ones as a
    class; fit the threshold (and an SVM's temperature) on out-of-fold predictions over the same
    examples (k-fold). `texts` are the examples' texts, needed by a recipe with word features. Labels
    are routes, "oos" or "oos:TOPIC"."""
    import numpy as np

    if val_vectors is not None and val_labels:
        vectors = np.vstack([vectors, val_vectors])
        labels = list(labels) + list(val_labels)
        texts = None if texts is None else list(texts) + list(val_texts or [])
    y = np.array(topics_merged(list(labels), folds))
    decided = np.array([scope(label) for label in labels])
    if len(routes_of(labels)) < 2:
        raise ValueError("training needs examples of at least two routes")
    x = features(vectors, texts, recipe.word_features)
    columns, weights, bias = _fit_head(x, y, recipe)
    classes = sorted({scope(column) for column in columns})
    model = IntentModel(classes, weights, bias, 0.5,
                        {"name": name, "examples": int((decided != OOS).sum()),
                         "oos_examples": int((decided == OOS).sum()),
                         "c": recipe.c, "head": recipe.head, "oos_weight": recipe.oos_weight,
                         "word_features": recipe.word_features, "oos_recall": recipe.oos_recall,
                         "oos_alone": recipe.oos_alone},
                        columns if columns != classes else None)
    held_out = out_of_fold(x, y, recipe, folds)
    if held_out is not None:
        logits, rows, used = held_out
        if recipe.head == "svm":  # margins, not probabilities: one temperature makes them so
            scale = temperature(logits, [columns.index(label) for label in y[rows]])
            model.weights, model.bias, logits = model.weights * scale, model.bias * scale, logits * scale
            model.meta["temperature"] = round(scale, 4)
        probs = softmax(logits) @ merging(columns, classes)
        model.threshold = choose_threshold(probs, classes, list(decided[rows]), recipe.oos_recall,
                                           recipe.oos_alone)
        model.meta["threshold_from"] = f"{used}-fold out-of-fold predictions"
    return model


def topics_merged(labels: list[str], least: int) -> list[str]:
    """The labels with each out-of-scope topic of fewer than `least` examples made plain "oos" (and plain
    "oos", when it is then still that small, the largest topic): every column gets examples in each fold."""
    counts = Counter(labels)
    topics = [label for label in counts if label.startswith(OOS + ":")]
    small = {label for label in topics if counts[label] < least}
    labels = [OOS if label in small else label for label in labels]
    rest = [label for label in topics if label not in small]
    if rest and 0 < labels.count(OOS) < least:
        largest = max(rest, key=lambda label: counts[label])
        labels = [largest if label == OOS else label for label in labels]
    return labels


def temperature(logits: Any, truth: list[int]) -> float:
    """The factor on the logits that gives the true classes the highest likelihood (temperature scaling)."""
    import numpy as np
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(truth))

    def loss(scale: float) -> float:
        z = logits * scale
        z = z - z.max(axis=1, keepdims=True)
        return float((np.log(np.exp(z).sum(axis=1)) - z[rows, truth]).mean())

    return float(minimize_scalar(loss, bounds=(0.01, 100.0), method="bounded").x)


def out_of_fold(x: Any, y: Any, recipe: Recipe, folds: int = 5) -> tuple[Any, Any, int] | None:
    """(logits, rows, folds): the logits of each example of `rows` (a mask) from a head that did not see
    it, in the full model's class order (a class a fold did not have gets a logit far below the others),
    and how many folds made them (at most as many as the smallest label has examples). A label's only
    example is in every fold's training and in none of the rows. None when fewer than two labels have
    two examples."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(y)
    rows = np.array([counts[label] >= 2 for label in y])
    held_labels = set(y[rows])
    if len(held_labels) < 2:
        return None
    folds = min(folds, min(counts[label] for label in held_labels))
    classes = sorted(set(y))
    logits = np.full((len(y), len(classes)), -1e4, dtype=np.float32)
    heldable, always = np.flatnonzero(rows), np.flatnonzero(~rows)
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(heldable, y[heldable]):
        fit_idx, held_idx = np.concatenate([heldable[fit], always]), heldable[held]
        fold_classes, weights, bias = _fit_head(x[fit_idx], y[fit_idx], recipe)
        part = np.asarray(x[held_idx] @ weights) + bias
        for j, name in enumerate(fold_classes):
            logits[held_idx, classes.index(name)] = part[:, j]
    return logits[rows], rows, folds


def evaluate(model: IntentModel, vectors: Any, labels: list[str], texts: list[str] | None = None) -> dict[str, Any]:
    """Accuracy on in-scope examples, macro-F1, out-of-scope recall and precision, most confused pairs,
    and the operating curve (in-scope accuracy and out-of-scope recall at other thresholds)."""
    import numpy as np

    probs = model.probabilities(vectors, texts)
    index, conf = model.in_scope(probs)
    pred = np.array(model.classes)[index]
    decided = np.where(conf >= model.threshold, pred, OOS)
    labels = [scope(label) for label in labels]
    truth = np.array(labels)
    inscope = truth != OOS
    f1s = []
    for label in sorted(set(truth) | set(decided)):
        tp = int(((decided == label) & (truth == label)).sum())
        fp = int(((decided == label) & (truth != label)).sum())
        fn = int(((decided != label) & (truth == label)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    rejected = decided == OOS
    confused = Counter((t, d) for t, d in zip(truth, decided, strict=True) if t != d)
    return {
        "examples": len(truth),
        "in_scope_accuracy": round(float((decided[inscope] == truth[inscope]).mean()), 4) if inscope.any() else None,
        "top1_accuracy": round(float((pred[inscope] == truth[inscope]).mean()), 4) if inscope.any() else None,
        "macro_f1": round(float(np.mean(f1s)), 4),
        "oos_recall": round(float(rejected[~inscope].mean()), 4) if (~inscope).any() else None,
        "oos_precision": round(float((truth[rejected] == OOS).mean()), 4) if rejected.any() else None,
        "threshold": round(model.threshold, 4),
        "most_confused": [{"true": t, "predicted": d, "count": n} for (t, d), n in confused.most_common(10)],
        "curve": operating_curve(probs, model.classes, labels, (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)),
    }


NOTHING_TO_CLASSIFY = "nothing to classify: no data.text, subject or body"


def task_text(task: dict[str, Any]) -> str:
    """What the model reads of a task: an email's subject and the start of its body, else data.text, else
    its other data as JSON; "" when the task has none of these (an empty text, an email with neither
    subject nor body, no data)."""
    data = task.get("data") or {}
    if not isinstance(data, dict):
        return str(data)[:2000].strip()
    if "subject" in data or "body_text" in data:
        return f"{data.get('subject') or ''}\n{str(data.get('body_text') or '')[:1000]}".strip()
    if "text" in data:
        return str(data["text"] or "")[:2000].strip()
    if not any(value not in (None, "", [], {}) for value in data.values()):
        return ""
    return json.dumps(data, ensure_ascii=False)[:2000]
