"""The stores of a home on one machine: the journal and the approvals in SQLite (state/actions.db, synced
on every write), the rate-limit buckets, the alert budget and the models' health in small files under
state/, changed under a file lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import CANTCREAT, StorageError
from ..fileutil import write_atomic
from . import base

DAMAGED = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}  # what SQLite says of a damaged file


class Database:
    """state/actions.db: the journal and the approvals, synced on every write (autocommit, WAL). A damaged
    file (a disk that failed, a backup restored half-way) stops what uses it with one line saying what
    to do: nothing acts without knowing what it did before."""

    def __init__(self, home: Path):
        self.path = home / "state" / "actions.db"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=FULL")

    def execute(self, sql: str, values: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, values)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in DAMAGED:
                raise
            raise StorageError(
                f"{self.path}: damaged ({exc}); it records which actions ran, so none runs until it is "
                f"repaired: `sqlite3 {self.path} .recover | sqlite3 fixed.db`, then fixed.db in its place; or "
                "move it aside to start anew (an action cut short before is then not known)", CANTCREAT) from None


class Journal(base.Journal):
    def __init__(self, home: Path):
        self.db = Database(home)
        self.db.execute("CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, task TEXT, type TEXT,"
                        " state TEXT, result TEXT, error TEXT, updated REAL)")

    def get(self, key: str) -> dict[str, Any] | None:
        import orjson

        row = self.db.execute("SELECT state, result, error FROM journal WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"state": row[0], "result": orjson.loads(row[1]) if row[1] else None, "error": row[2]}

    def record(self, key: str, task: str, kind: str, state: str, result: Any = None, error: str | None = None) -> None:
        import orjson

        self.db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                        " state = excluded.state, result = excluded.result, error = excluded.error,"
                        " updated = excluded.updated",
                        (key, task, kind, state, orjson.dumps(result).decode() if result is not None else None,
                         error, time.time()))

    def forget(self, key: str) -> None:
        self.db.execute("DELETE FROM journal WHERE key = ?", (key,))


class Approvals(base.Approvals):
    def __init__(self, home: Path):
        self.db = Database(home)
        self.db.execute("CREATE TABLE IF NOT EXISTS approvals (task TEXT, kind TEXT, value TEXT, by TEXT, at REAL,"
                        " PRIMARY KEY (task, kind, value))")

    def _record(self, task_id: str, kind: str, value: str, by: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
                        (task_id, kind, value, by, time.time()))

    def of(self, task_id: str) -> list[dict[str, Any]]:
        from ..timeutil import rfc3339

        rows = self.db.execute("SELECT kind, value, by, at FROM approvals WHERE task = ? ORDER BY at", (task_id,))
        return [{"kind": kind, "value": value, "by": by, "at": rfc3339(int(at * 1000))} for kind, value, by, at in rows]


class LockedFile:
    """A small JSON document under state/, read and replaced under a file lock (also alerts.Stoppages)."""

    def __init__(self, home: Path, name: str):
        self.path = home / "state" / name

    def change(self, fn: Any) -> Any:
        """Run fn(document) -> (new document, answer) under the lock; the answer is returned."""
        import orjson
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with FileLock(str(self.path) + ".lock", is_singleton=False):
            document, answer = fn(self._load(FileNotFoundError))
            write_atomic(self.path, orjson.dumps(document), sync=False)
        return answer

    def read(self) -> dict[str, Any]:
        return self._load(OSError)

    def _load(self, missing: type[OSError]) -> dict[str, Any]:
        """The document; {} when it is `missing` or not a JSON object (cut short, or edited by hand)."""
        import orjson

        try:
            document = orjson.loads(self.path.read_bytes())
        except (missing, orjson.JSONDecodeError):
            return {}
        return document if isinstance(document, dict) else {}


class Limits(base.Limits):
    def __init__(self, home: Path):
        self.file = LockedFile(home, "limits.json")

    def try_take(self, kind: str, capacity: float, rate: float) -> float:
        def take(buckets: dict[str, Any]) -> tuple[dict[str, Any], float]:
            now = time.time()
            tokens, last = buckets.get(kind, [capacity, now])
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= 1:
                buckets[kind] = [tokens - 1, now]
                return buckets, 0.0
            buckets[kind] = [tokens, now]
            return buckets, (1 - tokens) / rate

        return self.file.change(take)


class AlertBudget(base.AlertBudget):
    def __init__(self, home: Path):
        self.file = LockedFile(home, "alerts.json")

    def admit(self, limit: int, period_s: float) -> int | None:
        def admit(record: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
            now = time.time()
            sent = [t for t in record.get("sent", []) if now - t < period_s]
            held_back = record.get("held_back", 0)
            if len(sent) >= limit:
                return {"sent": sent, "held_back": held_back + 1}, None
            return {"sent": [*sent, now], "held_back": 0}, held_back

        return self.file.change(admit)


class Health(base.Health):
    def __init__(self, home: Path):
        self.file = LockedFile(home, "model-health.json")

    def read(self) -> dict[str, dict[str, Any]]:
        return self.file.read()

    def write(self, name: str, ok: bool, error: str | None) -> None:
        def write(records: dict[str, Any]) -> tuple[dict[str, Any], None]:
            records[name] = {"ok": ok, "at": time.time(), "error": error}
            return records, None

        self.file.change(write)
