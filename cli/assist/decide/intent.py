"""The intent model: a logistic-regression head over sentence embeddings, with a confidence threshold
fitted on validation data (never on the data it is reported on).

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

OOS = "oos"  # the label of out-of-scope examples in training data


@dataclass
class IntentModel:
    classes: list[str]
    weights: Any  # (dim, k)
    bias: Any  # (k,)
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, vectors: Any) -> Any:
        import numpy as np

        logits = vectors @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, probs: Any, threshold: float | None = None, top: int = 3,
               route_thresholds: dict[str, float] | None = None) -> dict[str, Any]:
        """intent for one row of probabilities: the route (or fallback), labels with scores, evidence.
        A route's own threshold (`routes.NAME.threshold`) replaces the model's for that route."""
        threshold = self.threshold if threshold is None else threshold
        order = probs.argsort()[::-1][:max(top, 5)]
        labels = [{"name": self.classes[i], "score": round(float(probs[i]), 4)} for i in order[:top]
                  if probs[i] >= 0.1 or i == order[0]]
        best = float(probs[order[0]])
        threshold = (route_thresholds or {}).get(self.classes[order[0]], threshold)
        route = self.classes[order[0]] if best >= threshold else "fallback"
        return {"route": route, "labels": labels, "by": f"model:{self.meta.get('name', 'intent')}",
                "confidence": round(best, 4), "threshold": round(threshold, 4),
                "top": [{"name": self.classes[i], "score": round(float(probs[i]), 4)} for i in order]}

    def save(self, path: Path) -> None:
        import numpy as np

        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, weights=self.weights, bias=self.bias, classes=np.array(json.dumps(self.classes)),
                 threshold=np.array(self.threshold), meta=np.array(json.dumps(self.meta)))
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            return cls(json.loads(str(data["classes"])), data["weights"], data["bias"], float(data["threshold"]),
                       json.loads(str(data["meta"])))


def fit_threshold(model: IntentModel, vectors: Any, labels: list[str], min_oos_recall: float = 0.5) -> float:
    """The threshold with the best in-scope accuracy that still rejects min_oos_recall of the
    out-of-scope examples; without such examples, the one that keeps 97% of correct answers."""
    import numpy as np

    probs = model.probabilities(vectors)
    conf = probs.max(axis=1)
    pred = np.array(model.classes)[probs.argmax(axis=1)]
    truth = np.array(labels)
    inscope = truth != OOS
    if (~inscope).sum() == 0:
        correct = conf[(pred == truth)]
        return float(np.quantile(correct, 0.03)) if len(correct) else 0.5
    best = (0.5, -1.0)
    for threshold in np.linspace(0.02, 0.95, 94):
        decided = np.where(conf >= threshold, pred, OOS)
        recall = float((decided[~inscope] == OOS).mean())
        accuracy = float((decided[inscope] == truth[inscope]).mean())
        if recall >= min_oos_recall and accuracy > best[1]:
            best = (float(threshold), accuracy)
    return best[0]


def train(vectors: Any, labels: list[str], val_vectors: Any = None, val_labels: list[str] | None = None,
          name: str = "intent", c: float = 10.0) -> IntentModel:
    """Fit the head on all in-scope examples. The threshold is fitted on the validation data, or
    without it on out-of-fold predictions (k-fold over the training data), never on what the head saw."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    y = np.array(labels)
    keep = y != OOS
    if len(set(y[keep])) < 2:
        raise ValueError("training needs examples of at least two routes")
    head = LogisticRegression(C=c, max_iter=3000)
    head.fit(vectors[keep], y[keep])
    weights, bias = head.coef_.T, head.intercept_
    if len(head.classes_) == 2:  # sklearn keeps one column for two classes: the first class's logit is 0
        weights = np.hstack([np.zeros_like(weights), weights])
        bias = np.concatenate([[0.0], bias])
    model = IntentModel(list(head.classes_), weights.astype(np.float32), np.asarray(bias, dtype=np.float32),
                        0.5, {"name": name, "examples": int(keep.sum()), "c": c})
    if val_vectors is not None:
        model.threshold = fit_threshold(model, val_vectors, list(val_labels or []))
    else:
        model.threshold = _out_of_fold_threshold(vectors, y, c)
    return model


def _out_of_fold_threshold(vectors: Any, y: Any, c: float) -> float:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    keep = y != OOS
    counts = Counter(y[keep])
    folds = min(5, min(counts.values()))
    if folds < 2:
        return 0.5
    confidences, truth, preds, oos_conf = [], [], [], []
    for fit_idx, held_idx in StratifiedKFold(folds, shuffle=True, random_state=0).split(vectors[keep], y[keep]):
        head = LogisticRegression(C=c, max_iter=3000).fit(vectors[keep][fit_idx], y[keep][fit_idx])
        probs = head.predict_proba(vectors[keep][held_idx])
        confidences.extend(probs.max(axis=1))
        preds.extend(head.classes_[probs.argmax(axis=1)])
        truth.extend(y[keep][held_idx])
        if (~keep).any():
            oos_conf.extend(head.predict_proba(vectors[~keep]).max(axis=1))
    vectors_conf = np.array(confidences)
    correct = vectors_conf[np.array(preds) == np.array(truth)]
    if len(oos_conf):  # between the out-of-scope examples and the correct answers
        return float(min(np.median(oos_conf), np.quantile(correct, 0.05))) if len(correct) else 0.5
    return float(np.quantile(correct, 0.03)) if len(correct) else 0.5


def evaluate(model: IntentModel, vectors: Any, labels: list[str]) -> dict[str, Any]:
    """Accuracy on in-scope examples, macro-F1, out-of-scope recall and precision, most confused pairs."""
    import numpy as np

    probs = model.probabilities(vectors)
    pred = np.array(model.classes)[probs.argmax(axis=1)]
    decided = np.where(probs.max(axis=1) >= model.threshold, pred, OOS)
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
