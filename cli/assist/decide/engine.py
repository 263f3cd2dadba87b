"""The decision engine: rules first, then the intent model, then the fallback (docs/classify.md).

The model is `[classify] model` when set, else one trained from the routes' `examples` and kept in
state/intent-model.npz (trained again when the examples or the encoder change).
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from .intent import NOTHING_TO_CLASSIFY, IntentModel, task_text
from .rules import first_match

if TYPE_CHECKING:
    from ..config import Config

DEFAULT_MODEL = "state/intent-model.npz"


class DecisionEngine:
    def __init__(self, config: Config):
        self.config = config
        self.rules = config.rules
        self.settings = config.section("classify")
        self._model: IntentModel | None = None
        self._loaded = False
        self._embedder: Any = None
        self._lock = threading.Lock()  # `assist work -j N` shares one engine between its workers

    def embedder(self) -> Any:
        if self._embedder is None:
            from .embedder import shared

            self._embedder = shared(self.settings.get("encoder"), self.settings.get("tokenizer"))
        return self._embedder

    def model(self) -> IntentModel | None:
        with self._lock:
            if not self._loaded:
                self._model = self._load_model()
                self._loaded = True
            return self._model

    def _load_model(self) -> IntentModel | None:
        if self.settings.get("model"):
            return IntentModel.load(self.config.resolve(self.settings["model"]))
        examples = [(text, name) for name, route in self.config.routes.items()
                    for text in route.get("examples", [])]
        if len({name for _, name in examples}) < 2:
            return None
        # the vectors the head was fitted on depend on the encoder (and how it computes) as well
        embedder = self.embedder()
        key = json.dumps([embedder.identity, sorted(examples)])
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = self.config.home / DEFAULT_MODEL
        if path.exists():
            cached = IntentModel.load(path)
            if cached.meta.get("examples_hash") == digest:
                return cached
        from .intent import train

        vectors = embedder.embed([t for t, _ in examples])
        model = train(vectors, [n for _, n in examples], name="routes")
        model.meta["examples_hash"] = digest
        model.save(path)
        return model

    def decide(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The intent of each task, with its evidence."""
        out: list[dict[str, Any] | None] = []
        pending, texts = [], []
        for i, task in enumerate(tasks):
            rule = first_match(self.rules, task)
            if rule is not None:
                out.append({"route": rule["route"], "labels": [{"name": rule["route"], "score": 1.0}],
                            "by": f"rule:{rule['name']}", "confidence": 1.0})
                continue
            text = task_text(task)
            if not text:  # bad input: held for a person, and named (`assist classify` exits 65)
                out.append({"route": "fallback", "labels": [], "by": "none", "confidence": 0.0,
                            "reason": NOTHING_TO_CLASSIFY})
            else:
                out.append(None)
                pending.append(i)
                texts.append(text)
        model = self.model() if pending else None
        if pending and model is None:
            for i in pending:
                out[i] = {"route": "fallback", "labels": [], "by": "none", "confidence": 0.0,
                          "reason": "no rule matched and no intent model (add route examples)"}
        elif pending:
            assert model is not None
            vectors = self.embedder().embed(texts)
            probs = model.probabilities(vectors)
            threshold = self.settings.get("threshold")
            own = {name: route["threshold"] for name, route in self.config.routes.items()
                   if "threshold" in route}
            for row, i in enumerate(pending):
                out[i] = model.decide(probs[row], threshold, route_thresholds=own)
        return out  # type: ignore[return-value]
