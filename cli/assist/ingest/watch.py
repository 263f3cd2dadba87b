"""`assist ingest watch DIR...`: file.created / file.modified / file.moved / file.deleted events.

Following (watchdog), events of a path are gathered for a debounce interval and become one: an editor's
save (write a temporary file, rename it over the original) gives one `file.modified`; a file created and
deleted within the interval gives nothing. Temporary and hidden names (`.*`, `*~`, `*.swp`, `#*#`, `4913`,
`*.tmp`, `*.part`) are never reported themselves. `--once` instead compares a scan with the state saved
by the previous run, for cron.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AssistError
from ..jsonl import writable
from .events import Sink, State, accepted_only, event, safe_name

IGNORED = (".*", "*~", "*.swp", "*.swx", "#*#", "4913", "*.tmp", "*.part", "*.crdownload")


class Filter:
    def __init__(self, globs: tuple[str, ...] = (), ignore: tuple[str, ...] = ()):
        self.globs = globs or ("*",)
        self.ignore = IGNORED + tuple(ignore)

    def __call__(self, path: str) -> bool:
        name = os.path.basename(path)
        if any(fnmatch.fnmatch(name, pattern) for pattern in self.ignore):
            return False
        return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(path, g) for g in self.globs)


def _file_data(path: str, root: Path, stamp: list[int] | None = None) -> dict[str, Any]:
    """What an event says of a file; its size and time from `stamp` (a scan's) or read now."""
    data: dict[str, Any] = {"path": path, "name": os.path.basename(path), "dir": str(root)}
    if stamp is not None:
        data["size"], data["mtime"] = stamp[1], stamp[0] / 1e9
        return data
    try:
        st = os.stat(path)
        data["size"] = st.st_size
        data["mtime"] = st.st_mtime
    except OSError:
        pass
    return data


def scan(roots: list[Path], keep: Filter) -> dict[str, list[int]]:
    """[mtime_ns, size] of each file kept, by its path as text (a name that is not UTF-8 made so, as its
    event and the state file must carry it)."""
    found: dict[str, list[int]] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = os.path.join(folder, name)
                if keep(path):
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    found[writable(path)] = [st.st_mtime_ns, st.st_size]
    return found


def _check_roots(roots: list[Path]) -> None:
    for root in roots:
        if root.exists() and not root.is_dir():
            raise AssistError(f"{root}: not a folder (watch the folder it is in, with --glob for its name)")
        if not root.is_dir():
            raise AssistError(f"{root}: the watched folder does not exist (or was deleted)")


def once(roots: list[Path], keep: Filter, sink: Sink, home: Path) -> int:
    """Compare a scan with the last run's and send what changed."""
    _check_roots(roots)
    state = State(home, "watch-" + safe_name("+".join(sorted(str(r.resolve()) for r in roots))))
    before = state.load().get("files", {})
    now = scan(roots, keep)
    events = []
    for path, stamp in sorted(now.items()):  # keyed by what changed, so a run sent again gives the same ids
        if path not in before:
            events.append(event("file.created", f"file://{path}", _file_data(path, _root_of(path, roots), stamp),
                                key=f"created:{path}:{stamp}"))
        elif before[path] != stamp:
            events.append(event("file.modified", f"file://{path}", _file_data(path, _root_of(path, roots), stamp),
                                key=f"modified:{path}:{stamp}"))
    events.extend(_deleted(path, f"deleted:{path}:{before[path]}") for path in sorted(set(before) - set(now)))
    with accepted_only(state, sink):
        sink.send(events)
        state.save({"files": now})
    return len(events)


def _deleted(path: str, key: str | None = None) -> dict[str, Any]:
    return event("file.deleted", f"file://{path}", {"path": path, "name": os.path.basename(path)}, key=key)


def _root_of(path: str, roots: list[Path]) -> Path:
    return next((r for r in roots if path.startswith(str(r))), roots[0])


class Debouncer:
    """Gathers raw file system events per path and releases each path once it has been quiet."""

    def __init__(self, roots: list[Path], keep: Filter, emit: Callable[[list[dict[str, Any]]], None],
                 debounce_s: float, known: set[str]):
        self.roots, self.keep, self.emit, self.debounce_s = roots, keep, emit, debounce_s
        self.known = known  # paths that existed: a file moved in over one of these is modified, not created
        self.pending: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def _note(self, path: str, kind: str, **extra: Any) -> None:
        entry = self.pending.get(path)
        if entry is None:
            entry = self.pending[path] = {"first": kind, "existed": path in self.known}
        entry["last"] = kind
        entry["at"] = time.monotonic()
        entry.update(extra)

    def raw(self, kind: str, src: str, dest: str | None = None) -> None:
        with self.lock:
            if kind == "moved":
                if self.keep(src):
                    if dest and self.keep(dest):
                        self._note(dest, "moved_in", moved_from=src)
                        self.pending.pop(src, None)
                        self.known.discard(src)
                        return
                    self._note(src, "deleted")
                if dest and self.keep(dest):
                    self._note(dest, "created")  # a temporary file renamed into place: a save
                return
            if self.keep(src):
                self._note(src, kind)

    def flush(self, force: bool = False) -> None:
        cutoff = time.monotonic() - self.debounce_s
        with self.lock:
            ready = [p for p, e in self.pending.items() if force or e["at"] <= cutoff]
            entries = [(p, self.pending.pop(p)) for p in sorted(ready)]
        events = []
        for path, entry in entries:
            exists = os.path.exists(path)
            root = _root_of(path, self.roots)
            if not exists:
                if entry["existed"]:
                    events.append(_deleted(path))
                self.known.discard(path)
                continue
            if entry.get("moved_from") and not entry["existed"]:
                data = _file_data(path, root) | {"from": entry["moved_from"]}
                events.append(event("file.moved", f"file://{path}", data))
            elif entry["existed"]:
                events.append(event("file.modified", f"file://{path}", _file_data(path, root)))
            else:
                events.append(event("file.created", f"file://{path}", _file_data(path, root)))
            self.known.add(path)
        if events:
            self.emit(events)


def follow(roots: list[Path], keep: Filter, sink: Sink, debounce_s: float, stop: threading.Event,
           on_ready: Callable[[], None] | None = None) -> int:
    """Watch until stop is set (on_ready is called once the watch is in place: what changes from then on
    gives events); raises AssistError if a watched folder disappears."""
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    _check_roots(roots)
    debouncer = Debouncer(roots, keep, sink.send, debounce_s, set(scan(roots, keep)))

    class Handler(FileSystemEventHandler):
        def on_any_event(self, ev: Any) -> None:
            if ev.is_directory or ev.event_type not in ("created", "modified", "moved", "deleted", "closed"):
                return
            kind = "modified" if ev.event_type == "closed" else ev.event_type
            src = os.fsdecode(ev.src_path)
            dest = os.fsdecode(ev.dest_path) if getattr(ev, "dest_path", "") else None
            debouncer.raw(kind, src, dest)

    observer = Observer()
    for root in roots:
        observer.schedule(Handler(), str(root), recursive=True)
    observer.start()
    if on_ready is not None:
        on_ready()
    try:
        while not stop.wait(min(0.1, debounce_s / 2)):
            debouncer.flush()
            _check_roots(roots)
            if not observer.is_alive():
                raise AssistError("the file watcher stopped unexpectedly")
        debouncer.flush(force=True)
    finally:
        observer.stop()
        observer.join(timeout=5)
    return sink.count
