"""Learning from corrections: each route a person gives a task (`assist queue approve ID --route R`, the
route menus of `assist top` and the dashboard, `assist classify teach ID R`) is kept as a labelled
example, and the route model and the spam model are trained again from them. A task a person rejects
(`assist queue reject`, top, the dashboard) is kept as a rejection of its route: the next task that
reads nearly the same (cosine >= REJECTED_SIMILARITY) is held for a person instead of taking that route
again, whoever placed it (a rule, the model). A rejection never places anything by itself. A mail the
person took out of Junk (junked.py) is kept as "not spam" for the spam model alone. An example of a
list's mail (List-Id) carries a digest of the list: the person's latest rejection of a route for one of
a list's mails (a rejection, a move back: filed.py) refuses that route for the whole list, until they
give one of its mails that route again (ListRefusals, `lists.json` of a version). An example of a mail
carries a digest of its sender's address too: a sender whose mail the person's latest word says is not
spam is not filed in Junk unasked (SendersNotSpam, `senders.json`).

An example keeps what the models read, not the message: the sentence embedding of its text, the hashed
features of the spam model (decide/spam.py), the subject, and the text itself only with `[classify]
learn_text = true` (then a new encoder can embed it again; without it, only the subject is embedded
again, and the example says so). Examples are lines of `state/feedback.jsonl`, appended under a lock; a
line cut short by a crash is skipped, and the next example starts on a line of its own.

Each training makes a version, `state/learned/vN/` (the intent head and the spam model), written whole
before `state/learned/current` names it: a crash while training leaves the last complete version in use.
One process trains at a time (Learned.lock); the others wait and use what it made.
`assist classify history` lists the versions, `assist classify undo` goes back one and withdraws the
examples the undone version added (they are not learned again).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..fileutil import append_lines, write_atomic

FEEDBACK = "state/feedback.jsonl"
LEARNED = "state/learned"
KEEP_VERSIONS = 20
# how far a person's example moves the spam model's weights from the shipped ones (decide/spam.py
# adjust_vectors, beside each weight's evidence there): at 40 with the evidence, against 20 without it,
# the developers' mail with a person correcting what is held (bench/_spam_folds.py, three shuffles with
# the mail services send as hard ham) had 2 more spam of 200 filed in Junk and one fewer question, none
# legitimate in Junk either way, and phishing in the words of a service's mail the person vouched for
# was let through less (decide/spam.py EVIDENCE_PULL)
CORRECTION_STRENGTH = 40.0
# how alike (cosine of the sentence embeddings) a task must be to a rejected one to be held: a scam sent
# again with another name or amount is above 0.9; two different mails of the same kind (two invoices,
# two newsletters) were 0.5-0.8 in the shared SpamAssassin mail
REJECTED_SIMILARITY = 0.85
REQUEST_CHARS = 1000  # of a typed request's words kept as an example


def _pack(vector: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode()


def unpack(text: str) -> Any:
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)


def example(task: dict[str, Any], route: str, by: str, embedder: Any, keep_text: bool,
            rejected: bool = False) -> dict[str, Any]:
    """The example a person's route for `task` makes (what the models read of it, not the message);
    `rejected`: the person refused that route for it."""
    from .intent import task_text
    from .spam_policy import judged

    text = task_text(task)
    found = task.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    entry: dict[str, Any] = {"op": "add", "id": task.get("id"), "route": route, "by": by,
                             "at": int(time.time() * 1000), "encoder": embedder.identity}
    if text:
        entry["vector"] = _pack(embedder.embed([text])[0])
    listed = list_key(data)
    if listed:
        entry["list"] = listed
    if judged(task):
        entry.update(_mail_read(data))
    if keep_text:
        entry["text"] = text
    if rejected:
        entry["rejected"] = True
    return entry


def list_key(data: dict[str, Any]) -> str | None:
    """A digest of the mailing list a mail says it is from (its List-Id's <id>, else the whole value),
    None when it names none: a person's route for one of a list's mails is a word about the list."""
    import hashlib
    import re

    found = data.get("headers")
    value = str((found if isinstance(found, dict) else {}).get("list-id") or "").strip().lower()
    if not value:
        return None
    inside = re.search(r"<([^<>]+)>", value)
    return hashlib.sha256(b"assist-list:" + (inside.group(1) if inside else value).encode()).hexdigest()


@dataclass
class SendersNotSpam:
    """The senders (correspondents.sender_key) whose mail the person's latest word says is not spam: one of their mails
    taken out of Junk or given a route other than the spam route, and none given the spam route (or moved
    into Junk) since. The spam decision files their mail in Junk unasked no more (decide/spam_policy.py),
    as a mail client's "Not junk" trusts a sender (`senders.json` of a version)."""
    senders: list[str]

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.senders).encode())

    @classmethod
    def load(cls, path: Path) -> SendersNotSpam:
        found = json.loads(path.read_text())
        return cls([str(s) for s in found] if isinstance(found, list) else [])

    @classmethod
    def of(cls, entries: list[dict[str, Any]], spam_route: str | None) -> SendersNotSpam:
        latest: dict[str, bool] = {}  # sender -> spam
        for entry in sorted(entries, key=lambda e: e.get("at") or 0):
            sender = entry.get("sender")
            if not isinstance(sender, str) or entry.get("rejected") or entry.get("request"):
                continue
            if entry.get("spam_only"):
                latest[sender] = entry.get("is_spam") is True
            elif isinstance(entry.get("route"), str):
                latest[sender] = entry["route"] == spam_route
        return cls(sorted(sender for sender, spam in latest.items() if not spam))


@dataclass
class ListRefusals:
    """{list_key: the routes a person refused for that list's mail}: their latest word on each route of
    a list counts (a rejection or a move back refuses it, a mail of the list given that route again
    takes the refusal back)."""
    refused: dict[str, list[str]]

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.refused, sort_keys=True).encode())

    @classmethod
    def load(cls, path: Path) -> ListRefusals:
        found = json.loads(path.read_text())
        return cls({str(k): [str(r) for r in v] for k, v in found.items() if isinstance(v, list)}
                   if isinstance(found, dict) else {})

    @classmethod
    def of(cls, entries: list[dict[str, Any]]) -> ListRefusals:
        latest: dict[tuple[str, str], bool] = {}
        for entry in sorted(entries, key=lambda e: e.get("at") or 0):
            if isinstance(entry.get("list"), str) and isinstance(entry.get("route"), str) and not entry.get("request"):
                latest[(entry["list"], entry["route"])] = bool(entry.get("rejected"))
        refused: dict[str, list[str]] = {}
        for (listed, route), rejected in sorted(latest.items()):
            if rejected:
                refused.setdefault(listed, []).append(route)
        return cls(refused)


def spam_example(task: dict[str, Any], spam: bool, by: str) -> dict[str, Any]:
    """What the spam model reads of a mail, as spam or not by what the person did with it (took it out
    of Junk: junked.py). Only the spam model learns from it: a move says spam or not, not which route."""
    found = task.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    return {"op": "add", "id": f"{'spam' if spam else 'not-spam'}:{data.get('sha256') or task.get('id')}",
            "by": by, "at": int(time.time() * 1000), "spam_only": True, "is_spam": spam, **_mail_read(data)}


def _mail_read(data: dict[str, Any]) -> dict[str, Any]:
    """What an example keeps of a mail: the spam model's features, the subject, and a digest of its
    sender (correspondents.sender_key) when there is one to trust."""
    from ..correspondents import sender_key
    from .spam import vector

    idx, val = vector(data)
    read = {"spam": {"i": idx.tolist(), "v": [round(float(v), 5) for v in val]},
            "subject": str(data.get("subject") or "")[:300]}
    digest = data.get("sha256")
    if isinstance(digest, str) and len(digest) == 64:
        read["mail"] = digest  # the mail it is a word about (Feedback.entries)
    sender = sender_key(data)
    return {**read, "sender": sender} if sender else read


def request_example(task: dict[str, Any], route: str, by: str) -> dict[str, Any]:
    """The example a person's route for a typed request makes: its words (a request is a line the person
    typed, kept like a mail's subject) and the request route; the request model learns from it
    (decide/engine.py request_model), the model of mail and other events never does."""
    from .intent import task_text

    return {"op": "add", "id": task.get("id"), "route": route, "by": by, "at": int(time.time() * 1000),
            "request": True, "text": task_text(task)[:REQUEST_CHARS]}


class Feedback:
    """The examples, in `state/feedback.jsonl`."""

    def __init__(self, home: Path):
        self.path = home / FEEDBACK

    def _append(self, entry: dict[str, Any]) -> None:
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"), open(self.path, "a+b") as handle:
            append_lines(handle, orjson.dumps(entry) + b"\n")

    def add(self, entry: dict[str, Any]) -> None:
        self._append(entry)

    def add_once(self, *entries: dict[str, Any]) -> int:
        """Add the examples no example in force has the id of (a move noticed again): how many were added."""
        known = {e["id"] for e in self.entries(by_mail=False)}  # one a later word replaced is not added again
        added = 0
        for entry in entries:
            if entry["id"] not in known:
                self._append(entry)
                known.add(entry["id"])
                added += 1
        return added

    def withdraw(self, ids: list[str], why: str) -> None:
        self._append({"op": "withdraw", "ids": ids, "why": why, "at": int(time.time() * 1000)})

    def entries(self, by_mail: bool = True) -> list[dict[str, Any]]:
        """The examples in force: a later one for a task replaces an earlier one; withdrawn ones are gone.
        `by_mail`: and a later word about a mail replaces an earlier one about the same mail (its digest,
        `mail`), whichever way it came (a teach after a move into Junk, a teach of a mail taken out of
        Junk): the person's latest word counts, once. A rejection is a word about a route, kept beside."""
        found: dict[str, dict[str, Any]] = {}
        withdrawn: set[str] = set()
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line a crash cut short
            if not isinstance(entry, dict):
                continue
            if entry.get("op") == "add" and isinstance(entry.get("id"), str):
                found.pop(entry["id"], None)
                found[entry["id"]] = entry
                withdrawn.discard(entry["id"])
            elif entry.get("op") == "withdraw":
                withdrawn.update(str(i) for i in entry.get("ids", []))
        kept = [e for key, e in found.items() if key not in withdrawn]
        if not by_mail:
            return kept
        latest = {e["mail"]: e["id"] for e in kept if isinstance(e.get("mail"), str) and not e.get("rejected")}
        return [e for e in kept if e.get("rejected") or latest.get(e.get("mail")) in (None, e["id"])]

    def stamp(self) -> str:
        """Changes whenever an example is added or withdrawn."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return "none"
        return f"{st.st_size}-{st.st_mtime_ns}"


@dataclass
class Version:
    number: int
    folder: Path
    meta: dict[str, Any]


class Learned:
    """The versions of what was learned, in `state/learned/`."""

    def __init__(self, home: Path):
        self.root = home / LEARNED

    def lock(self) -> Any:
        """Held while a version is made or undone: every process that decides (a classify stage, `assist
        work`, the dashboard) trains when the feedback changes, and one that waited uses what the first
        made instead of making its own (before, two at once could take the same version number)."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"))

    def current(self) -> Version | None:
        try:
            number = int((self.root / "current").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return self.version(number)

    def version(self, number: int) -> Version | None:
        folder = self.root / f"v{number}"
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (FileNotFoundError, ValueError):
            return None  # not there, or not complete
        return Version(number, folder, meta)

    def damaged_current(self) -> Path | None:
        """The folder `current` names when it is there but its meta.json cannot be read (a damaged disk, a
        backup restored half-way: a version is complete before it is named)."""
        try:
            folder = self.root / f"v{int((self.root / 'current').read_text().strip())}"
        except (FileNotFoundError, ValueError):
            return None
        return folder if folder.is_dir() and self.version(int(folder.name[1:])) is None else None

    def discard(self, folder: Path) -> None:
        """A damaged version, gone: it is a cache of the feedback, which is made again from it."""
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError, ValueError):
            if (self.root / "current").read_text().strip() == folder.name[1:]:
                (self.root / "current").unlink()

    def _numbers(self) -> list[int]:
        return sorted(int(p.name[1:]) for p in self.root.glob("v*") if p.name[1:].isdigit())

    def _last(self) -> int:
        """The highest number a version was ever given (`last`): one discarded as damaged, or removed as
        old, keeps its number, which the evidence of the tasks it decided names."""
        try:
            return int((self.root / "last").read_text().strip())
        except (FileNotFoundError, ValueError):
            return 0

    def versions(self) -> list[Version]:
        return [v for v in (self.version(n) for n in self._numbers()) if v is not None]

    def save(self, files: dict[str, Any], meta: dict[str, Any]) -> Version:
        """A new version from {name: object with .save(path)}, complete on disk before it is current."""
        self.root.mkdir(parents=True, exist_ok=True)
        for partial in self.root.glob(".v*"):  # left by a crash while training (saves are made under lock())
            shutil.rmtree(partial, ignore_errors=True)
        known = [v.number for v in self.versions()]
        number = max([*self._numbers(), self._last()]) + 1  # past a damaged one's folder too
        partial = self.root / f".v{number}.{os.getpid()}"
        partial.mkdir()
        for name, obj in files.items():
            obj.save(partial / name)
        meta = {**meta, "version": number, "at": int(time.time() * 1000)}
        write_atomic(partial / "meta.json", json.dumps(meta, indent=1).encode())
        os.rename(partial, self.root / f"v{number}")
        write_atomic(self.root / "last", f"{number}\n".encode())
        self.point_at(number)
        for old in known[:-KEEP_VERSIONS]:
            shutil.rmtree(self.root / f"v{old}", ignore_errors=True)
        return Version(number, self.root / f"v{number}", meta)

    def point_at(self, number: int) -> None:
        write_atomic(self.root / "current", f"{number}\n".encode())


@dataclass
class Rejections:
    """The embeddings of tasks a person rejected, with the route each was refused."""
    vectors: Any  # (n, dim) float32, unit length
    routes: list[str]

    def save(self, path: Path) -> None:
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, vectors=np.asarray(self.vectors, dtype=np.float16), routes=np.array(json.dumps(self.routes)))
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Rejections:
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            return cls(data["vectors"].astype(np.float32), json.loads(str(data["routes"])))

    def closest(self, vector: Any, route: str) -> float:
        """The highest cosine between `vector` and a task rejected on `route` (0 when there is none)."""
        import numpy as np

        mine = [i for i, r in enumerate(self.routes) if r == route]
        return float(np.max(self.vectors[mine] @ vector)) if mine else 0.0


def _embedded(entries: list[dict[str, Any]], embedder: Any) -> tuple[list[Any], list[str]]:
    """The vectors and routes of examples: their own vector when this encoder made it, else what was kept
    (the text, else the subject) embedded again; an example with neither is left out."""
    import numpy as np

    vectors, routes = [], []
    again = [e for e in entries if e.get("encoder") != embedder.identity and (e.get("text") or e.get("subject"))]
    if again:
        vectors.append(embedder.embed([e.get("text") or e["subject"] for e in again]))
        routes += [e["route"] for e in again]
    same = [e for e in entries if e.get("encoder") == embedder.identity and e.get("vector")]
    if same:
        vectors.append(np.stack([unpack(e["vector"]) for e in same]))
        routes += [e["route"] for e in same]
    return vectors, routes


def retrain(home: Path, embedder: Any, route_examples: list[tuple[str, str]], base_spam: Any, spam_route: str | None,
            keep_text: bool, reason: str, basis: str = "", routes: set[str] | None = None) -> Version:
    """Train the intent head on the routes' examples and the feedback, adjust the spam model to the
    feedback, and make it the current version. With `routes` (those configured), the intent head learns
    no example of another route: a route the person removed is never decided again (its examples stay
    in the feedback, and are learned again if it comes back)."""
    import numpy as np

    from .intent import train
    from .spam import adjust_vectors

    feedback = Feedback(home)
    stamp = feedback.stamp()
    entries = feedback.entries()
    requests = [e for e in entries if e.get("request")]  # the request model's (engine.request_model)
    refused = [e for e in entries if e.get("rejected") and not e.get("request")]
    judged = [e for e in entries if e.get("spam_only") and isinstance(e.get("spam"), dict)]  # the spam model's
    routed = [e for e in entries if not e.get("rejected") and not e.get("request") and not e.get("spam_only")]
    texts = [t for t, _ in route_examples]
    vectors = [embedder.embed(texts)] if texts else []
    labels = [name for _, name in route_examples]
    configured = [e for e in routed if routes is None or e.get("route") in routes]
    found, taught = _embedded(configured, embedder)
    vectors, labels = vectors + found, labels + taught
    files: dict[str, Any] = {}
    if len(set(labels)) >= 2:
        model = train(np.vstack(vectors), labels, name="routes")
        files["intent.npz"] = model
    refused_vectors, refused_routes = _embedded(refused, embedder)
    if refused_vectors:
        files["rejections.npz"] = Rejections(np.vstack(refused_vectors), refused_routes)
    lists = ListRefusals.of([e for e in entries if not e.get("spam_only")])
    if lists.refused:
        files["lists.json"] = lists
    senders = SendersNotSpam.of(entries, spam_route)
    if senders.senders:
        files["senders.json"] = senders
    mail = [e for e in routed if isinstance(e.get("spam"), dict)]
    if base_spam is not None and spam_route:
        files["spam.npz"] = adjust_vectors(base_spam, [(e["spam"]["i"], e["spam"]["v"]) for e in mail + judged],
                                           [e["route"] == spam_route for e in mail] + [e.get("is_spam") is True
                                                                                       for e in judged],
                                           CORRECTION_STRENGTH)
    counts: dict[str, int] = {}
    for label in labels[len(route_examples):] + [e["route"] for e in requests] + [
            "(spam)" if e.get("is_spam") is True else "(not spam)" for e in judged]:
        counts[label] = counts.get(label, 0) + 1
    meta = {"feedback": stamp, "examples": [e["id"] for e in entries], "by_route": counts,
            "rejected": len(refused_routes), "lists_refused": len(lists.refused),
            "senders_not_spam": len(senders.senders),
            "route_examples": len(route_examples),
            "spam_examples": len(mail) + len(judged), "encoder": embedder.identity,
            "reason": reason, "learn_text": keep_text, "basis": basis}
    return Learned(home).save(files, meta)


def undo(home: Path) -> tuple[Version, Version | None]:
    """Go back one version (or, from the first, to what the routes' examples alone give); the examples
    the undone version added are withdrawn. (undone, now current: None for the routes' examples)."""
    learned = Learned(home)
    with learned.lock():
        return _undo(home, learned)


def _undo(home: Path, learned: Learned) -> tuple[Version, Version | None]:
    from ..errors import UsageError

    current = learned.current()
    if current is None or not current.meta.get("examples"):
        raise UsageError("nothing to undo: nothing learned is in use (assist classify history)")
    feedback = Feedback(home)
    active = {e["id"] for e in feedback.entries(by_mail=False)}
    # the newest earlier version made only from examples still in force (none withdrawn since)
    earlier = [v for v in learned.versions() if v.number < current.number
               and set(v.meta.get("examples", [])) <= active]
    previous = earlier[-1] if earlier else None
    added = sorted(set(current.meta.get("examples", [])) - set(previous.meta.get("examples", []) if previous else []))
    if added:
        feedback.withdraw(added, f"undo of version {current.number}")
    if previous is None:
        (learned.root / "current").unlink()
        return current, None
    learned.point_at(previous.number)
    # the feedback changed (the withdrawal): the previous version is current for it as it stands now
    meta = {**previous.meta, "feedback": Feedback(home).stamp()}
    write_atomic(previous.folder / "meta.json", json.dumps(meta, indent=1).encode())
    return current, Version(previous.number, previous.folder, meta)
