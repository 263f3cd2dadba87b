"""Is this mail spam? A logistic regression over hashed words of the subject, the body and the sender,
the runs of four characters of the subject's and body's words (a spam word spelled another way shares
most of them), and what some headers say (the mailer, the hops, bulk, a reply), trained on real mail.

What told the training corpus's mailing-list mail from everything else, rather than spam from mail a
person wants, is left out: which headers a mail has, the content type, attachments, and any token for
what a mail lacks (not bulk, not a reply). With them, mail that was not a list's looked like spam for
that alone: a short personal mail with an attachment scored 0.99 (of 92 odd but legitimate test
messages, CPython's and flanker's in tests/fixtures, 25 were at 0.8 or more with them, 3 without;
5-fold on the 600 the same either way: bench/README.md).

The package ships one (`decide/data/spam-model.npz`, trained by `scripts/train-spam` on the
SpamAssassin public corpus and on mail that is not a list's: decide/data/README.md); `assist classify
spam-train` trains one on a user's own folders; decide/learning.py adjusts it to what a person
corrects (`adjust`): a correction moves what the model learned little about (a sender, a shop's own
words) more than what hundreds of its training mails taught it (the words every account mail shares),
so that a few of a service's mails said not to be spam do not let phishing in the same words through.
Training needs scikit-learn and scipy (the `classify` extra); scoring needs only numpy.

The body is read up to BODY_CHARS and words are hashed (decide/hashed_words.py), so no mail can make
scoring slow and the model keeps no word. A person's corrections are kept as these features
(decide/learning.py); those kept before the character runs were read have words only, and still move
the model through them.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileutil import write_atomic
from . import hashed_words

N_FEATURES = 1 << 18
BODY_CHARS = 4000
# how firmly a feature's evidence in the training mail (SpamModel.evidence) holds its weight against a
# person's corrections (adjust_vectors). After five of a service's mails were said not to be spam, the
# share of 988 phishing mails of today (Phishing Pot, research use) let through unasked went from 67% to
# 88% without it, 76% with it; on the developers' mail the corrections of a person catch as much spam or
# more (bench/README.md)
EVIDENCE_PULL = 5.0
SHIPPED = Path(__file__).parent / "data" / "spam-model.npz"
CV_FOLDS = 5  # `classify spam-train` reports on mail its model did not see, k-fold
# headers whose values' words are features (which headers a mail has is not one: see above)
WORDED_HEADERS = ("x-mailer", "user-agent", "precedence", "x-priority", "organization", "reply-to", "return-path")


def tokens(data: dict[str, Any]) -> list[str]:
    """The features of one mail's event data (ingest/mail.py parse_message), as strings."""
    subject = str(data.get("subject") or "")
    body = str(data.get("body_text") or "")[:BODY_CHARS]
    subject_words, body_words = hashed_words.words(subject, 50), hashed_words.words(body)
    out = ["s:" + w for w in subject_words]
    out += hashed_words.with_pairs(body_words)
    out += ["c:" + g for g in hashed_words.char_grams(subject_words + body_words)]
    out += ["f:" + w for w in hashed_words.words(str(data.get("from") or ""), 20)]
    found = data.get("headers")
    headers: dict[str, Any] = found if isinstance(found, dict) else {}
    for name in WORDED_HEADERS:
        out += [f"{name}:{w}" for w in hashed_words.words(str(headers.get(name) or ""), 12)]
    hops = data.get("received_hops")
    out.append(f"hops:{min(hops, 8) if isinstance(hops, int) else '?'}")
    if data.get("bulk"):
        out.append("bulk")
    if data.get("in_reply_to") or data.get("references"):
        out.append("reply")
    links = body.count("http://") + body.count("https://")
    if links >= 3:
        out.append(f"links:{min(links, 10) // 3}")
    if len(subject) > 5 and subject.upper() == subject and any(c.isalpha() for c in subject):
        out.append("subject:capitals")
    return out


def vector(data: dict[str, Any]) -> tuple[Any, Any]:
    """(indices, values) of one mail: log(1 + count) per hashed token, scaled to unit length."""
    return hashed_words.vector(tokens(data), N_FEATURES)


def matrix(rows: list[dict[str, Any]]) -> Any:
    """A sparse matrix (scipy CSR) of many mails' vectors."""
    return hashed_words.matrix([vector(r) for r in rows], N_FEATURES)


@dataclass
class SpamModel:
    weights: Any  # (N_FEATURES,) float32
    bias: float
    meta: dict[str, Any] = field(default_factory=dict)
    # how much the training mail told of each weight (N_FEATURES,): the logistic loss's curvature there,
    # sum of p(1 - p) x^2 over the training mails; None for a model saved before it was kept
    evidence: Any = None

    def probability(self, data: dict[str, Any]) -> float:
        import math

        idx, val = vector(data)
        z = float(self.bias + (self.weights[idx] * val).sum())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def probabilities(self, rows: list[dict[str, Any]]) -> list[float]:
        return [self.probability(r) for r in rows]

    def save(self, path: Path) -> None:
        import numpy as np

        nonzero = np.flatnonzero(self.weights).astype(np.int32)
        kept = {} if self.evidence is None else {  # half precision: what a pull needs (65,504 at most)
            "evidence": np.clip(self.evidence[nonzero], 0, 65_000).astype(np.float16)}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, index=nonzero, weight=self.weights[nonzero].astype(np.float32),
                            bias=np.array(self.bias), meta=np.array(json.dumps(self.meta)), **kept)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> SpamModel:
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            weights = np.zeros(N_FEATURES, dtype=np.float32)
            weights[data["index"]] = data["weight"]
            evidence = None
            if "evidence" in data.files:  # where the training mail had a feature: where a weight is
                evidence = np.zeros(N_FEATURES, dtype=np.float32)
                evidence[data["index"]] = data["evidence"]
            return cls(weights, float(data["bias"]), json.loads(str(data["meta"])), evidence)


def shipped() -> SpamModel:
    return SpamModel.load(SHIPPED)


def train(rows: list[dict[str, Any]], labels: list[bool], c: float = 10.0, name: str = "spam") -> SpamModel:
    """A model fitted on mails labelled spam (True) or not (False)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    y = np.array(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("training needs both spam and mail that is not spam")
    x = matrix(rows)
    head = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y)
    p = head.predict_proba(x)[:, 1]
    evidence = np.asarray(x.multiply(x).T @ (p * (1 - p))).ravel().astype(np.float32)
    return SpamModel(head.coef_[0].astype(np.float32), float(head.intercept_[0]),
                     {"name": name, "spam": int(y.sum()), "ham": int((~y).sum()), "c": c}, evidence)


def adjust(base: SpamModel, rows: list[dict[str, Any]], labels: list[bool], strength: float = 1.0) -> SpamModel:
    """`base` moved towards mails a person labelled (adjust_vectors on their features)."""
    return adjust_vectors(base, [vector(r) for r in rows], labels, strength)


def adjust_vectors(base: SpamModel, vectors: list[tuple[Any, Any]], labels: list[bool],
                   strength: float = 1.0) -> SpamModel:
    """`base` moved towards mails a person labelled, given as (indices, values): the logistic loss on
    them plus a pull back towards base's weights of `1/strength`, and of EVIDENCE_PULL times what
    base's training mail told of each (its evidence): only the weights of features they have move, and
    those the training mail said little of the most. A few corrections change decisions near them
    (the same sender, the same shop's words) and leave the rest as base had them."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.sparse import csr_matrix

    if not vectors:
        return base
    indptr = np.cumsum([0] + [len(i) for i, _ in vectors])
    x = csr_matrix((np.concatenate([np.asarray(v, dtype=np.float64) for _, v in vectors]),
                    np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in vectors]), indptr),
                   shape=(len(vectors), N_FEATURES))
    y = np.where(np.array(labels, dtype=bool), 1.0, -1.0)
    cols = np.unique(x.indices)
    local = x[:, cols]
    w0, pull = base.weights[cols].astype(np.float64), np.full(len(cols), 1.0 / strength)
    if base.evidence is not None:
        pull += EVIDENCE_PULL * base.evidence[cols].astype(np.float64)

    def loss(delta: Any) -> tuple[float, Any]:  # the bias stays: a few examples say nothing of all mail
        margin = y * (local @ (w0 + delta) + base.bias)
        value = np.logaddexp(0, -margin).sum() + 0.5 * (pull * delta) @ delta
        return value, local.T @ (-y / (1.0 + np.exp(margin))) + pull * delta

    found = minimize(loss, np.zeros(len(cols)), jac=True, method="L-BFGS-B", options={"maxiter": 200})
    weights = base.weights.copy()
    weights[cols] = (w0 + found.x).astype(np.float32)
    # no evidence: the next corrections start again from base (learning.retrain), so a learned version
    # does not carry a copy of base's (150 KB of each version's 540)
    return SpamModel(weights, base.bias, {**base.meta, "adjusted_with": len(vectors)})


def out_of_fold(rows: list[dict[str, Any]], labels: list[bool], folds: int = CV_FOLDS, c: float = 10.0) -> list[float]:
    """Each mail's spam probability from a model that did not see it (k-fold): how a model does on new mail."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    y = np.array(labels, dtype=bool)
    probs = np.zeros(len(rows))
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
        model = train([rows[i] for i in fit], [bool(y[i]) for i in fit], c=c)
        probs[held] = model.probabilities([rows[i] for i in held])
    return [float(p) for p in probs]


def operating_points(probs: list[float], labels: list[bool],
                     thresholds: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)) -> list[dict[str, Any]]:
    """At each threshold: the share of spam caught and the number of other mails that would be caught too."""
    spam = [p for p, s in zip(probs, labels, strict=True) if s]
    ham = [p for p, s in zip(probs, labels, strict=True) if not s]
    return [{"threshold": t, "spam_caught": round(sum(p >= t for p in spam) / max(1, len(spam)), 4),
             "ham_caught": sum(p >= t for p in ham), "ham": len(ham), "spam": len(spam)} for t in thresholds]


def read_mail(path: Path) -> list[dict[str, Any]]:
    """The event data of every message in a folder (one message a file, Maildirs included, recursively;
    hidden files skipped) or an mbox file."""
    from ..errors import UsageError
    from ..ingest.mail import parse_message

    if path.is_file():
        import mailbox

        return [parse_message(mailbox.mbox(str(path), create=False).get_bytes(key))
                for key in mailbox.mbox(str(path), create=False).keys()]  # noqa: SIM118
    if not path.is_dir():
        raise UsageError(f"{path}: no such folder or mbox file")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(path).parts))
    return [parse_message(p.read_bytes()) for p in files]
