"""Shared fixtures: a throwaway assist home, and running the real `assist` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

BIN = Path(sys.executable).parent
ASSIST = str(BIN / "assist")

FAST_CONFIG = """
[queue]
backoff_base = "50ms"
backoff_max = "200ms"
lease = "30s"
timeout = "20s"
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[dict]:
        return [orjson.loads(line) for line in self.out.splitlines() if line.strip()]

    def json(self):
        return orjson.loads(self.out)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assist home with fast retries, set as ASSIST_HOME for this test and its subprocesses."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "assist.toml").write_text(FAST_CONFIG)
    monkeypatch.setenv("ASSIST_HOME", str(h))
    return h


def run(args: list[str], input: bytes | str | None = None, timeout: float = 120, **kw) -> Result:
    """Run `assist ARGS` as a user would, with the test's environment."""
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.run([ASSIST, *args], input=input, capture_output=True, timeout=timeout,
                          env=os.environ.copy(), **kw)
    return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def jsonl(*docs: dict) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


@pytest.fixture
def cli():
    return run
