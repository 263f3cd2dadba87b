"""The action journal: one SQLite row per action, by idempotency key, written before and after the side
effect. A redelivered task skips what is done; an action found `started` (a crash mid-way) is unsure."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def open_db(home: Path) -> sqlite3.Connection:
    """state/actions.db: the journal and the approvals, synced on every write (autocommit, WAL)."""
    path = home / "state" / "actions.db"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


class Journal:
    def __init__(self, home: Path):
        self.db = open_db(home)
        self.db.execute("CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, task TEXT, type TEXT,"
                        " state TEXT, result TEXT, error TEXT, updated REAL)")

    def get(self, key: str) -> dict[str, Any] | None:
        import orjson

        row = self.db.execute("SELECT state, result, error FROM journal WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return {"state": row[0], "result": orjson.loads(row[1]) if row[1] else None, "error": row[2]}

    def _write(self, key: str, task: str, kind: str, state: str, result: Any = None, error: str | None = None) -> None:
        import orjson

        self.db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                        " state = excluded.state, result = excluded.result, error = excluded.error,"
                        " updated = excluded.updated",
                        (key, task, kind, state, orjson.dumps(result).decode() if result is not None else None,
                         error, time.time()))

    def started(self, key: str, task: str, kind: str) -> None:
        self._write(key, task, kind, "started")

    def done(self, key: str, task: str, kind: str, result: Any) -> None:
        self._write(key, task, kind, "done", result)

    def forget(self, key: str) -> None:
        self.db.execute("DELETE FROM journal WHERE key = ?", (key,))

    def failed(self, key: str, task: str, kind: str, error: str) -> None:
        self._write(key, task, kind, "failed", error=error)
