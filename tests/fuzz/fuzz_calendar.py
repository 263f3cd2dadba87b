"""Any bytes as an iCalendar file: agenda.expand gives events, or the ValueError its callers report."""

from __future__ import annotations

import contextlib
from datetime import datetime
from zoneinfo import ZoneInfo

import _common  # the checkout on sys.path first
import atheris

with atheris.instrument_imports():
    from assist import agenda

ZONE = ZoneInfo("Europe/Madrid")
START, END = datetime(2026, 11, 30, tzinfo=ZONE), datetime(2026, 12, 21, tzinfo=ZONE)


def test(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        agenda.expand(data, ZONE, START, END)


if __name__ == "__main__":
    _common.fuzz(test)
