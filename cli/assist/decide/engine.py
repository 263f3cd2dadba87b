"""The decision engine: for mail the spam decision first (decide/spam_policy.py), then rules, then the
intent model, then the fallback (docs/classify.md).

The model is `[classify] model` when set, else one trained from the routes' `examples` and kept in
state/intent-model.npz (trained again when the examples or the encoder change).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..ai.written_to_the_assistant import written_to_the_assistant
from ..task import is_mail, is_request, takes, writes_mail
from .intent import NOTHING_TO_CLASSIFY, IntentModel, Recipe, is_oos, task_text
from .learning import FEEDBACK, Learned
from .model_file import DAMAGE
from .rules import first_match, refused
from .spam_policy import judged, spam_route_name

if TYPE_CHECKING:
    from ..config import Config
    from .learning import Rejections
    from .spam_policy import SpamPolicy

DEFAULT_MODEL = "state/intent-model.npz"
REQUEST_MODEL = "state/request-model.npz"
# how many times a request a person gave a route counts among the ~4,000 examples of the request model:
# "will it rain in paris tomorrow" taught agenda (against SLURP's weather examples, out of scope) went
# there at 0.64 counted once and "... in rome ..." did not; counted five times, 1.0 and 0.86, while
# "what is the weather in london" and "play some jazz" stayed out of scope (2026-12-03)
TAUGHT_WEIGHT = 5


def _said_damaged(path: Any, why: Any, source: str = f"your corrections ({FEEDBACK})") -> None:
    """What was learned is made from a source kept elsewhere: a damaged copy is made again, and said."""
    sys.stderr.write(f"assist: {path}: damaged ({str(why)[:200]}); made again from {source}\n")


class DecisionEngine:
    def __init__(self, config: Config):
        self.config = config
        self.rules = config.rules
        self.settings = config.section("classify")
        self._model: IntentModel | None = None
        self._spam: SpamPolicy | None = None
        self._stamp: str | None = None  # the feedback the loaded models were made with
        self._embedder: Any = None
        self._requests: IntentModel | bool | None = None
        self._requests_stamp: str | None = None  # the feedback the request model was made with
        self._rejections: Rejections | None = None
        self._lists: dict[str, list[str]] = {}  # learning.ListRefusals: routes a person refused for a list
        self._senders = frozenset[str]()  # learning.SendersNotSpam: senders a person said are not spam
        self._people: Any = None  # correspondents.Correspondents, read when a home has no spam decision
        self._filed: Any = None  # filed.Filed: the mail a route other than spam moved away
        self._lock = threading.RLock()  # `assist work -j N` shares one engine between its workers

    def embedder(self) -> Any:
        if self._embedder is None:
            from .embedder import configured

            self._embedder = configured(self.config)
        return self._embedder

    def request_embedder(self) -> Any:
        """The encoder of typed requests: the packaged one tuned for them, or `[classify] encoder`."""
        from .embedder import configured

        return configured(self.config, requests=True)

    def _route_examples(self) -> list[tuple[str, str]]:
        """The examples of the routes of mail and other events (not the request routes)."""
        return [(text, name) for name, route in self.config.routes.items() if not route.get("request")
                for text in route.get("examples", [])]

    def request_model(self) -> IntentModel | None:
        """The model of typed requests: the request routes' examples, the packaged ones (decide/requests.py)
        and the requests a person gave a route (decide/learning.py request_example), trained on first use
        and kept in state/request-model.npz until they or the encoder change."""
        from .learning import Feedback

        with self._lock:
            feedback = Feedback(self.config.home)
            stamp = feedback.stamp()
            if self._requests is None or stamp != self._requests_stamp:
                from .requests import REQUESTS, packaged_examples

                names = {n for n, r in self.config.routes.items() if r.get("request")}
                examples = [(t, n) for n in sorted(names) for t in self.config.routes[n].get("examples", [])]
                if names:
                    examples += packaged_examples(names)
                taught = [(str(e["text"]), str(e["route"])) for e in feedback.entries()
                          if e.get("request") and e.get("route") in names and e.get("text")]
                self._requests = (self._trained(examples + taught * TAUGHT_WEIGHT, REQUEST_MODEL, "requests",
                                                REQUESTS, self.request_embedder(), kept=len(examples))
                                  if names else None) or False
                self._requests_stamp = stamp
            return self._requests if isinstance(self._requests, IntentModel) else None

    def _trained(self, examples: list[tuple[str, str]], where: str, name: str,
                 recipe: Recipe | None = None, embedder: Any = None, kept: int = 0) -> IntentModel | None:
        """A model of these examples, from its cache file when that was made from the same ones the same way.
        With `kept`, the vectors of the first `kept` examples (the routes' and the packaged ones; those after
        are a person's) are kept in a file beside the model's from the first training on, so that no example
        a person gives embeds them all again (the request model's 4,333: about 5 s on 2 cores, 6.7 MB)."""
        if len({n for _, n in examples if not is_oos(n)}) < 2:
            return None
        recipe = recipe or Recipe()
        embedder = embedder or self.embedder()
        key = [embedder.identity, sorted(examples), sorted(vars(recipe).items())]
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
        path = self.config.home / where
        if path.exists():
            try:
                cached = IntentModel.load(path)
            except DAMAGE as exc:  # trained again below, and kept in its place
                _said_damaged(path, exc, "the routes' examples")
            else:
                if cached.meta.get("examples_hash") == digest:
                    return cached
        from .intent import train

        texts = [t for t, _ in examples]
        if len(texts) > 500 and sys.stderr.isatty():  # the request model: ~15 s once, not a hang
            sys.stderr.write(f"assist: first use: learning to route {name} from {len(texts):,} examples "
                             "(kept until they change)...\n")
        if 0 < kept <= len(texts):
            import numpy as np

            vectors = np.vstack([_kept_vectors(texts[:kept], embedder, path.with_name(path.stem + "-vectors.npz")),
                                 embedder.embed(texts[kept:])])
        else:
            vectors = embedder.embed(texts)
        model = train(vectors, [n for _, n in examples], name=name, recipe=recipe, texts=texts)
        model.meta["examples_hash"] = digest
        model.save(path)
        return model

    def _load(self) -> None:
        """Load (or train) the intent model and the spam policy for the feedback as it is now."""
        from .learning import Feedback
        from .spam_policy import SpamPolicy

        stamp = Feedback(self.config.home).stamp()
        if stamp == self._stamp:
            return
        learned = self._learned(stamp) if stamp != "none" else None
        try:
            spam_model = self._load_learned(learned)
        except DAMAGE as exc:  # a cache of the feedback: made again from it
            assert learned is not None  # nothing is read without a version
            _said_damaged(learned.folder, exc)
            Learned(self.config.home).discard(learned.folder)
            spam_model = self._load_learned(self._learned(stamp))
        if self._model is None:
            self._model = self._load_model()
        self._spam = SpamPolicy.from_config(self.config, spam_model, self._senders)
        self._stamp = stamp

    def _load_learned(self, learned: Any) -> Any:
        """The intent model, rejections and list refusals of a learned version (None: the routes'
        examples alone); its spam model returned, None when it has none."""
        from .learning import ListRefusals, Rejections, SendersNotSpam
        from .spam import SpamModel

        folder = learned.folder if learned is not None else None
        self._model = self._rejections = None
        self._lists = {}
        self._senders = frozenset[str]()
        if folder is None:
            return None
        if (folder / "intent.npz").exists():
            self._model = IntentModel.load(folder / "intent.npz")
        if (folder / "rejections.npz").exists():
            self._rejections = Rejections.load(folder / "rejections.npz")
        if (folder / "lists.json").exists():
            self._lists = ListRefusals.load(folder / "lists.json").refused
        if (folder / "senders.json").exists():
            self._senders = frozenset(SendersNotSpam.load(folder / "senders.json").senders)
        return SpamModel.load(folder / "spam.npz") if (folder / "spam.npz").exists() else None

    def _basis(self) -> str:
        """What a learned version was made from besides the feedback: the routes' examples, the encoder,
        the spam model it adjusted."""
        spam = self.settings.get("spam_model")
        spam_id = "shipped"
        if spam:
            path = self.config.resolve(spam)
            spam_id = f"{path}:{path.stat().st_mtime_ns if path.exists() else 0}"
        key = json.dumps([self.embedder().identity, sorted(self._route_examples()), spam_id,
                          spam_route_name(self.config), sorted(self.config.routes)])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _learned(self, stamp: str) -> Any:
        """The learned version for this feedback, trained now when the current one is for other feedback
        or another basis. None when there is nothing to learn from (an explicit [classify] model)."""
        from .learning import Feedback, Learned, retrain

        if self.settings.get("model"):
            return None
        if not Feedback(self.config.home).entries():  # all withdrawn: the routes' examples alone decide
            return None
        basis = self._basis()
        learned = Learned(self.config.home)

        def made(version: Any) -> bool:
            return version is not None and version.meta.get("feedback") == stamp and version.meta.get("basis") == basis

        if made(current := learned.current()):
            return current
        with learned.lock():  # another process may be making this very version: wait for it, use it
            if made(current := learned.current()):
                return current
            damaged = learned.damaged_current()
            if damaged is not None:
                _said_damaged(damaged, "its meta.json cannot be read")
                learned.discard(damaged)
            from .spam_policy import SpamPolicy

            base = SpamPolicy.from_config(self.config)
            return retrain(self.config.home, self.embedder(), self._route_examples(),
                           base.model if base is not None else None, base.route if base is not None else None,
                           bool(self.settings.get("learn_text", False)), reason="feedback", basis=basis,
                           routes=set(self.config.routes))

    def refresh(self) -> None:
        """Train again now if the feedback changed (else the next decision would)."""
        with self._lock:
            self._load()

    def model(self) -> IntentModel | None:
        with self._lock:
            self._load()
            return self._model

    def spam_policy(self) -> SpamPolicy | None:
        with self._lock:
            self._load()
            return self._spam

    def learn(self, task: dict[str, Any], route: str, by: str) -> bool:
        """Keep a person's route for `task` as an example; the next decision is made with it: a typed
        request given a request route teaches the request model, any other task given another route the
        model of mail and other events. False, and nothing kept, when the route does not take the task
        (task.takes: a request given a mail route, a mail given a request route, a type its `types` do
        not name): a model would learn to send a kind where it does not go."""
        from .learning import Feedback, example, request_example

        request = is_request(task)
        if not takes(self.config.route(route), str(task.get("type", ""))) or (request and not task_text(task)):
            return False
        with self._lock:
            Feedback(self.config.home).add(request_example(task, route, by) if request else example(
                task, route, by, self.embedder(), bool(self.settings.get("learn_text", False))))
        return True

    def _learn_not_spam(self, task: dict[str, Any]) -> None:
        """A mail the person took out of Junk: the spam model learns it as not spam (once)."""
        from .learning import Feedback, spam_example

        with self._lock:
            Feedback(self.config.home).add_once(spam_example(task, False, "person:out-of-junk"))

    def _moved_back(self, task: dict[str, Any]) -> str | None:
        """The route other than spam that moved this very mail away, which the person moved back (filed.py)."""
        data = task.get("data")
        if not is_mail(task) or not isinstance(data, dict):
            return None
        if self._filed is None:
            from ..filed import Filed

            self._filed = Filed(self.config.home)  # keeps what it read until the file changes
        spam_route = spam_route_name(self.config)
        return self._filed.moved_by(data.get("sha256"), [name for name in self.config.routes if name != spam_route])

    def _list_refuses(self, task: dict[str, Any]) -> list[str]:
        """The routes a person refused for the mailing list this mail is from (learning.ListRefusals)."""
        from .learning import Feedback, list_key

        data = task.get("data")
        key = list_key(data) if is_mail(task) and isinstance(data, dict) else None
        if key is None or Feedback(self.config.home).stamp() == "none":  # nothing learned: no model loaded
            return []
        with self._lock:
            self._load()
            return list(self._lists.get(key, []))

    def _learn_moved_back(self, task: dict[str, Any], route: str) -> None:
        """A mail the person moved back after `route` filed it: kept as their rejection of that route for
        it (once), so the next mail that reads nearly the same is asked about, not filed."""
        from .learning import Feedback, example

        if not task_text(task):
            return
        with self._lock:
            entry = example(task, route, "person:moved-back", self.embedder(),
                            bool(self.settings.get("learn_text", False)), rejected=True)
            entry["id"] = f"moved-back:{route}:{(task.get('data') or {}).get('sha256')}"
            Feedback(self.config.home).add_once(entry)

    def learn_rejection(self, task: dict[str, Any], by: str) -> bool:
        """Keep a task a person rejected as a rejection of its route (decide/learning.py); False when it
        had no route to refuse (held because nothing placed it) or is a typed request (the person asked)."""
        from .learning import Feedback, example

        route = (task.get("intent") or {}).get("route")
        if not route or route == "fallback" or route not in self.config.routes or is_request(task):
            return False
        with self._lock:
            Feedback(self.config.home).add(example(task, route, by, self.embedder(),
                                                   bool(self.settings.get("learn_text", False)), rejected=True))
        return True

    def _hold_what_was_rejected(self, tasks: list[dict[str, Any]], out: list[dict[str, Any]],
                                embedded: dict[int, Any]) -> None:
        """A task nearly the same as one a person rejected on the route it was given is held instead
        (`embedded`: the vectors the model already made, by task index; the others are made here)."""
        from .learning import REJECTED_SIMILARITY

        rows = [i for i in range(len(out)) if not is_request(tasks[i]) and task_text(tasks[i])]
        if not rows:  # requests only: the mail model and its encoder are not loaded
            return
        with self._lock:
            self._load()
            refused = self._rejections
        if refused is None:
            return
        rows = [i for i in rows if out[i]["route"] in refused.routes]
        if not rows:
            return
        missing = [i for i in rows if i not in embedded]
        if missing:  # placed by a rule or the spam decision: not embedded yet
            embedded = {**embedded, **dict(zip(missing, self.embedder().embed([task_text(tasks[i]) for i in missing]),
                                               strict=True))}
        for i in rows:
            route = out[i]["route"]
            similarity = refused.closest(embedded[i], route)
            if similarity >= REJECTED_SIMILARITY:
                out[i] = {**out[i], "route": "fallback", "rejected_like": {"route": route,
                                                                           "similarity": round(similarity, 3)},
                          "reason": f"a person rejected a task like this one on route {route} "
                                    f"(similarity {similarity:.2f}); held for a person"}

    def _rules_for(self, task_type: str) -> list[dict[str, Any]]:
        """The rules that may place a task of this type: those whose route takes it (task.takes), and
        those that hold it (route "fallback")."""
        return [rule for rule in self.rules
                if rule.get("route") == "fallback" or takes(self.config.route(rule.get("route", "")), task_type)]

    def _load_model(self) -> IntentModel | None:
        if self.settings.get("model"):
            from .model_file import configured_model

            return configured_model(IntentModel.load, self.config, "model")
        return self._trained(self._route_examples(), DEFAULT_MODEL, "routes")

    def _by_model(self, tasks: list[dict[str, Any]], rows: list[int], texts: list[str], requests: bool,
                  spam: SpamPolicy | None, spam_signal: dict[int, dict[str, Any]],
                  out: list[dict[str, Any] | None]) -> Any:
        """The model's decision for tasks no rule placed: typed requests by the request model (what it is
        unsure of goes to [classify] request_fallback, `chat`), the rest by the routes' model. Returns
        the texts' vectors (None without a model)."""
        model = self.request_model() if requests else self.model()
        if model is None:
            for i in rows:
                out[i] = {**_no_model(requests), **_signals(spam_signal.get(i, {}))}
            return None
        vectors = (self.request_embedder() if requests else self.embedder()).embed(texts)
        probs = model.probabilities(vectors, texts)
        threshold = self.settings.get("threshold") if not requests else None
        own = {name: route["threshold"] for name, route in self.config.routes.items() if "threshold" in route}
        spam_column = model.classes.index(spam.route) if spam is not None and spam.route in model.classes else None
        fallback = self.settings.get("request_fallback", "chat")
        for row, i in enumerate(rows):
            if spam_column is not None and "spam" in spam_signal.get(i, {}):  # the spam decision judged it
                probs[row, spam_column] = 0.0
                probs[row] /= max(float(probs[row].sum()), 1e-9)
            undone = [model.classes.index(r) for r in refused(spam_signal.get(i, {})) if r in model.classes]
            if undone:  # the person moved it back from where that route filed it, or refused it for its list
                probs[row, undone] = 0.0
                probs[row] /= max(float(probs[row].sum()), 1e-9)
            task_type = str(tasks[i].get("type", ""))
            # routes that do not take it (task.takes) are out; what the model gave them is doubt, not
            # shared among the others: a feed's item that reads as spam is held, not summarised as mail
            out_of_type = [c for c, name in enumerate(model.classes)
                           if name in self.config.routes and not takes(self.config.routes[name], task_type)]
            doubt = {model.classes[c]: round(float(probs[row, c]), 4) for c in out_of_type if probs[row, c] >= 0.1}
            probs[row, out_of_type] = 0.0
            intent = model.decide(probs[row], threshold, route_thresholds=own)
            if intent["route"] == "fallback" and refused(spam_signal.get(i, {})):  # from the rules too
                intent["reason"] = (f"no confident route (best {intent['confidence']:.2f}) with "
                                    f"{_kept_out(spam_signal[i])}; held for a person")
            if doubt:
                intent["not_for_type"] = doubt
                if intent["route"] == "fallback":
                    best = max(doubt, key=lambda name: doubt[name])
                    intent["reason"] = (f"the model's best route for it, {best} ({doubt[best]:.2f}), does not take "
                                        f"{task_type} (its types); held for a person")
            if i in spam_signal:
                intent["signals"] = spam_signal[i]
            if not requests:
                intent = self._no_reply_to_a_stranger(intent)
            if requests and intent["route"] == "fallback" and fallback in self.config.routes:
                intent.update(route=fallback, reason="no request route was sure: answered directly")
            out[i] = intent
        return vectors

    def _wrote_to(self, task: dict[str, Any]) -> bool:
        """Whether a mail is from someone the person wrote to (correspondents.py), and the person's provider
        did not say it could not confirm its From line (lookalikes.not_confirmed)."""
        if self._people is None:
            from ..correspondents import Correspondents

            self._people = Correspondents.of(self.config)  # keeps what it read until the file changes
        from ..lookalikes import not_confirmed

        data = task.get("data")
        return isinstance(data, dict) and self._people.wrote_to(str(data.get("from") or "")) \
            and not_confirmed(data) is None

    def _no_reply_to_a_stranger(self, intent: dict[str, Any]) -> dict[str, Any]:
        """The model's route for a task, unless that route drafts or sends a reply (task.writes_mail) and
        the task is not from someone the person wrote to (`signals.correspondent`): then held. The task's
        own words steered the guess (a route learned from a person's corrections is one the model can
        guess), and the reply would go to whoever wrote it. A rule or a person may route it so."""
        route = intent["route"]
        writes = writes_mail(self.config.routes.get(route, {}))
        if not writes or (intent.get("signals") or {}).get("correspondent"):
            return intent
        return {**intent, "route": "fallback",
                "reason": f"the model's route for it, {route} ({intent['confidence']:.2f}), has {', '.join(writes)} "
                          "write to its sender, someone you never wrote to; held for a person"}

    def decide(self, tasks: list[dict[str, Any]], look: bool = False) -> list[dict[str, Any]]:
        """The intent of each task, with its evidence. `look`: the tasks are looked at, not arriving
        (`classify explain`, the preview of `classify teach`): nothing is learned, and a task decided
        before is not taken for a mail the person moved back (its mail's bytes were kept when its own
        route filed it)."""
        out: list[dict[str, Any] | None] = []
        pending, texts, spam_signal = [], [], {}
        spam = self.spam_policy() if any(judged(t) for t in tasks) else None
        for i, task in enumerate(tasks):
            signals: dict[str, Any] = {}
            again = look and isinstance(task.get("intent"), dict)
            if spam is not None and judged(task):
                signals, decided = spam.judge(task["data"], arrived=not again)
                if decided is not None:
                    out.append(decided)
                    continue
                if signals.get("rescued"):  # taken out of Junk: not filed there again (spam_policy.py)
                    signals = {**signals, "moved_back_from": spam.route}
                    if not look:
                        self._learn_not_spam(task)
            elif is_mail(task) and self._wrote_to(task):  # no spam decision (spam_route = ""): still known
                signals = {"correspondent": True}
            back = None if "moved_back_from" in signals or again else self._moved_back(task)
            if back is not None:  # the person undid a route's filing: that route is not taken for it again
                signals = {**signals, "moved_back_from": back}
                if not look:
                    self._learn_moved_back(task, back)
            list_refuses = self._list_refuses(task)
            if list_refuses:  # the person refused these routes for its list's mail
                signals = {**signals, "list_refuses": list_refuses}
            if not is_request(task) and written_to_the_assistant(task.get("data")):  # outside words, not the
                signals = {**signals, "written_to_the_assistant": True}  # person's: kept from drafts, held
            if signals:
                spam_signal[i] = signals
            kept_out = refused(signals)
            rules = [r for r in self._rules_for(str(task.get("type", ""))) if r.get("route") not in kept_out]
            rule = first_match(rules, {**task, "signals": signals})
            if rule is not None:
                out.append({"route": rule["route"], "labels": [{"name": rule["route"], "score": 1.0}],
                            "by": f"rule:{rule['name']}", "confidence": 1.0, **_signals(signals)})
                continue
            text = task_text(task)
            if not text:  # bad input: held for a person, and named (`assist classify` exits 65)
                out.append({"route": "fallback", "labels": [], "by": "none", "confidence": 0.0,
                            "reason": NOTHING_TO_CLASSIFY})
            else:
                out.append(None)
                pending.append(i)
                texts.append(text)
        text_of = dict(zip(pending, texts, strict=True))
        embedded: dict[int, Any] = {}
        for requests in (False, True):
            rows = [i for i in pending if is_request(tasks[i]) == requests]
            vectors = self._by_model(tasks, rows, [text_of[i] for i in rows], requests, spam, spam_signal, out) \
                if rows else None
            if vectors is not None and not requests:  # requests are never held as rejected (learn_rejection)
                embedded.update(zip(rows, vectors, strict=True))
        self._hold_what_was_rejected(tasks, out, embedded)  # type: ignore[arg-type]
        return out  # type: ignore[return-value]


def _kept_out(signals: dict[str, Any]) -> str:
    """Which routes the person refused for a task, and how, as a hold reason says it."""
    said = []
    if signals.get("moved_back_from"):
        said.append(f"{signals['moved_back_from']} kept out (you moved this mail back from where it filed it)")
    lists = [r for r in signals.get("list_refuses") or [] if r != signals.get("moved_back_from")]
    if lists:
        said.append(f"{', '.join(lists)} kept out (you moved this list's mail back)")
    return " and ".join(said)


def _kept_vectors(texts: list[str], embedder: Any, path: Any) -> Any:
    """The texts' embeddings, from `path` when it holds those of the same texts by the same encoder, else
    made and kept there."""
    import contextlib
    import io

    import numpy as np

    from ..fileutil import write_atomic

    key = hashlib.sha256(json.dumps([embedder.identity, texts]).encode()).hexdigest()
    try:
        with np.load(path, allow_pickle=False) as found:
            if str(found["key"]) == key:
                return found["vectors"]
    except DAMAGE:
        pass  # none yet, or not readable: made again
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(key), vectors=vectors)
    with contextlib.suppress(OSError):  # only a saving of time: the next teaching embeds them again
        write_atomic(path, buffer.getvalue())
    return vectors


def rejection_learner(config: Config, by: str) -> Any:
    """What `queue reject`, top and the dashboard call with a rejected task: it is kept as a rejection
    of its route (DecisionEngine.learn_rejection); the engine and its encoder load only if one comes."""
    def learn(task: dict[str, Any]) -> bool:
        return DecisionEngine(config).learn_rejection(task, f"person:reject:{by}")
    return learn


def _no_model(requests: bool) -> dict[str, Any]:
    what = "no request route" if requests else "no intent model (add route examples)"
    return {"route": "fallback", "labels": [], "by": "none", "confidence": 0.0,
            "reason": f"no rule matched and {what}"}


def _signals(signals: dict[str, Any]) -> dict[str, Any]:
    return {"signals": signals} if signals else {}
