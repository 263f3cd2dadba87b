"""The last resort against a stage that cannot be stopped.

The runner gives up on a batch at its timeout and asks the stage to stop (`ctx.cancelled`). Code that
holds the interpreter (a C extension in a long loop) cannot even be asked: no Python thread runs, the
runner's own timer included, and signals wait too. faulthandler's timer runs in a thread of its own in C:
armed for the earliest deadline of the batches in flight, it ends the process (exit 1, the stacks of
every thread on stderr) if that deadline passes. The leases of a process that is gone come back to
their queue (`reap`), so nothing is lost and nothing hangs for ever.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator

_deadlines: dict[int, float] = {}  # one timer per process: shared by every runner in it
_lock = threading.Lock()
_keys = itertools.count()


class Watchdog:
    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[None]:
        """End the process if the block is still running `seconds` from now."""
        key = next(_keys)
        with _lock:
            _deadlines[key] = time.monotonic() + seconds
            _arm()
        try:
            yield
        finally:
            with _lock:
                del _deadlines[key]
                _arm()


def _arm() -> None:
    import faulthandler

    if not _deadlines:
        faulthandler.cancel_dump_traceback_later()
        return
    left = min(_deadlines.values()) - time.monotonic()
    faulthandler.dump_traceback_later(max(1.0, left), exit=True, file=2)
