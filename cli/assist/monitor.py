"""What is happening now, for `assist top` and `assist serve`: queue depths, running and held tasks,
throughput, the latest errors per component; and what changed since the last look (task state changes,
new error records), which `assist serve` pushes over its WebSocket.

Everything is read from the queue backend and the logs, as `assist queue` and `assist logs` read them:
the monitor keeps no state of its own and works with any number of workers in other processes.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .logview import LogTail, recent_records
from .queue import admin
from .queue.base import STATES, Backend
from .timeutil import now_ms

if TYPE_CHECKING:
    from .config import Config


def queues(backend: Backend) -> list[dict[str, Any]]:
    """Each queue's depth per state, ready/delayed counts and finished tasks per minute."""
    out = []
    for name in backend.queues():
        stats = backend.queue(name, create=False).stats()
        out.append({"name": name, "depth": stats["depth"], "ready": stats["ready"], "delayed": stats["delayed"],
                    "done_per_min_1m": stats["done_last_1m"], "done_per_min_5m": round(stats["done_last_5m"] / 5, 2),
                    "oldest_ready_age_s": stats.get("oldest_ready_age_s")})
    return out


def tasks(backend: Backend, queue: str | None = None, state: str | None = None,
          limit: int = 200, config: Config | None = None) -> list[dict[str, Any]]:
    """Task rows (as `assist queue ls --json` prints them) with an `info` line; running ones also say
    for how long and which command holds them. With the `config`, a held mail says which of the person's
    accounts it came to, a held send the address it goes out from (act/which_account.py)."""
    from .act.which_account import told

    accounts = told(config) if config is not None else None
    names = backend.queues()
    if queue:
        if queue not in names:
            return []
        names = [queue]
    rows, _total = admin.listing(backend, names, [state] if state else list(STATES), limit)
    out = []
    now = now_ms()
    for row in rows:
        item = row.as_dict(accounts)
        item["info"] = admin.describe(item)
        if row.info.state == "cur":
            item["stage"] = _command_of(row.info.owner)
        if item.get("created"):
            item["age_s"] = round(now / 1000 - _epoch(item["created"]), 1)
        if row.doc is not None:
            trace = row.doc.get("trace") or []
            item["last_stage"] = trace[-1]["stage"] if trace else None
            intent = row.doc.get("intent") or {}
            item["route"] = intent.get("route")
            item["subject"] = (row.doc.get("data") or {}).get("subject")
        out.append(item)
    return out


def _command_of(owner: str | None) -> str | None:
    """`assist work`, `assist classify`...: the command line of a lease's owner when it runs here."""
    if not owner or "@" not in owner:
        return None
    pid, _, host = owner.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [os.path.basename(a.decode(errors="replace")) for a in argv if a][:3]
    for i, word in enumerate(words):
        if word == "assist" and i + 1 < len(words):
            return f"assist {words[i + 1]}"
    return " ".join(words[:2]) or None


def problems(log_folder: Path) -> list[dict[str, Any]]:
    """The recent warning and error records of every component, oldest first: read once per look, for
    errors_by_component and rates."""
    return recent_records(log_folder, None, "warning", limit=5000)


def errors_by_component(records: list[dict[str, Any]], per_component: int = 3) -> dict[str, list[dict[str, Any]]]:
    """The latest warnings and errors of each component, newest last."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record.get("component", "?"), []).append(record)
    return {name: found[-per_component:] for name, found in sorted(grouped.items())}


def rates(queue_rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Over the last five minutes, per minute: tasks finished, tasks that failed for good, attempts that
    failed and will be retried (also counted in failed_attempts_per_min); and the error rate: the share of
    tasks ending that failed (a retry that then succeeds is not an error of the task)."""
    minutes = 5.0
    done = sum(q["done_per_min_5m"] for q in queue_rows)
    since = time.time() - minutes * 60
    recent = [r.get("event") for r in records if _epoch(r.get("at")) >= since]
    failed, retried = recent.count("failed") / minutes, recent.count("retry") / minutes
    ended = done + failed
    return {"minutes": minutes, "done_per_min": round(done, 2), "failed_per_min": round(failed, 2),
            "retries_per_min": round(retried, 2), "failed_attempts_per_min": round(failed + retried, 2),
            "error_rate": round(failed / ended, 4) if ended else 0.0}


def _epoch(at: str | None) -> float:
    if not at:
        return 0.0
    from .timeutil import parse_rfc3339

    try:
        return parse_rfc3339(at) / 1000
    except ValueError:
        return 0.0


def workers(backend: Backend) -> list[dict[str, Any]]:
    """The workers alive now ({"host", "pid", "stage", "queue", "command", "seen"}), by host."""
    return sorted(backend.workers(), key=lambda w: (w["host"], w["pid"]))


def by_host(found: list[dict[str, Any]]) -> dict[str, int]:
    """How many workers each host runs."""
    out: dict[str, int] = {}
    for worker in found:
        out[worker["host"]] = out.get(worker["host"], 0) + 1
    return out


def overview(backend: Backend, log_folder: Path, config: Config | None = None) -> dict[str, Any]:
    """Everything a dashboard shows at once (`config`: the configuration now, for the held tasks' rows)."""
    rows, records = queues(backend), problems(log_folder)
    alive = workers(backend)
    return {"queues": rows, "running": tasks(backend, state="cur"), "held": tasks(backend, state="hold", config=config),
            "failed": tasks(backend, state="failed", limit=50), "errors": errors_by_component(records),
            "rates": rates(rows, records), "workers": alive, "workers_by_host": by_host(alive)}


@dataclass
class Watcher:
    """The changes since the previous look: task state changes and new error records.

    The first look remembers where every task is. On the spool, every state a task enters is seen, in
    order (inotify) — in a queue made after the watch began, from when its folder is seen (tasks already
    in it are reported in the state they are in); on other backends each look compares listings, so a
    state shorter than the interval between looks can be missed. A task seen in a new place is reported
    with the state it left (None when it is new to the watcher).
    """

    backend: Backend
    log_folder: Path
    seen: dict[tuple[str, str], str] = field(default_factory=dict)
    started: bool = False
    tail: LogTail | None = None
    watch: Any = None

    def _listing(self) -> dict[tuple[str, str], str]:
        now = {}
        for name in self.backend.queues():
            for info in self.backend.queue(name, create=False).list():
                now[(name, info.id)] = info.state
        return now

    def changes(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self.started:
            self.watch = self.backend.state_watch()
            self.tail = LogTail(self.log_folder, None, "error")
            self.seen, self.started = self._listing(), True
        elif self.watch is not None and not self.watch.overflowed:
            for queue, task_id, state in self.watch.read():
                self._moved(events, queue, task_id, state)
        else:
            if self.watch is not None:
                self.watch.read()
                self.watch.overflowed = False
            now = self._listing()
            for key, state in now.items():
                self._moved(events, *key, state)
            self.seen = now
        assert self.tail is not None
        for record, _raw in self.tail.read_new():
            events.append({"kind": "log", "record": record})
        return events

    def _moved(self, events: list[dict[str, Any]], queue: str, task_id: str, state: str) -> None:
        before = self.seen.get((queue, task_id))
        if before != state:
            events.append({"kind": "task", "queue": queue, "id": task_id, "state": state, "previous": before})
            self.seen[(queue, task_id)] = state

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
