"""Exceptions and the exit codes they map to (docs/stages.md, docs/exit-codes.md)."""

from __future__ import annotations

OK = 0
TASKS_FAILED = 1  # some tasks failed and were kept (failed/ or dead letter)
USAGE = 2
DATAERR = 65  # bad input lines
UNAVAILABLE = 69  # a backend or server is unavailable, or an optional extra is not installed
SOFTWARE = 70  # a bug: a worker thread died (its leases were given back)
CANTCREAT = 73  # a file cannot be written: a read-only file system, no permission
TEMPFAIL = 75  # temporary failure, try later (also: the disk is full)
CONFIG = 78  # bad configuration


class AssistError(Exception):
    """An error with a message meant for the user and an exit code."""

    exit_code = TASKS_FAILED


def joined(faults: list[AssistError], more: str = "") -> AssistError:
    """Several faults (of several accounts, each tried) as one error: their messages, then `more`, and the
    first one's exit code."""
    if len(faults) == 1 and not more:
        return faults[0]
    error = AssistError("; ".join(str(each) for each in faults) + more)
    error.exit_code = faults[0].exit_code
    return error


class UsageError(AssistError):
    exit_code = USAGE


class ConfigError(AssistError):
    exit_code = CONFIG

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class Unavailable(AssistError):
    exit_code = UNAVAILABLE


class MissingExtra(Unavailable):
    """An optional dependency is not installed: `assist serve needs the serve extra: pip install ...`."""


class StorageError(AssistError):
    """The disk refused a write (full, read-only, no permission): stop, keep what is not written yet."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Unreadable(AssistError):
    """A task file that cannot be read as a task (truncated, not JSON, a link): named, never a traceback."""


class NotFound(AssistError):
    exit_code = USAGE


class Conflict(AssistError):
    """The task exists but is not in a state that allows the operation."""

    exit_code = TASKS_FAILED


class LeaseLost(AssistError):
    """The lease on a task is gone: it was cancelled, reaped or finished elsewhere."""


class TemporaryError(AssistError):
    """A stage failed in a way that may succeed later: the task is retried with backoff."""

    exit_code = TEMPFAIL


class OutcomeUnknown(TemporaryError):
    """A fault after an action may have taken effect (the connection dropped once a mail was handed
    over): the task is retried, and the retry first asks whether it happened (act/perform.py)."""


class ReaderGone(TemporaryError):
    """The reader of stdout went away (its process ended): what was not surely delivered is kept."""


class PermanentError(AssistError):
    """A stage failed in a way that will not improve: the task goes to failed/ at once."""


# errno -> exit code for the storage faults a user meets (EX_TEMPFAIL when space may come back)
# ENOSPC, EDQUOT, EROFS, EACCES, EPERM
STORAGE_ERRNOS = {28: TEMPFAIL, 122: TEMPFAIL, 30: CANTCREAT, 13: CANTCREAT, 1: CANTCREAT}


def storage_error(exc: BaseException) -> StorageError | None:
    """The StorageError for an OSError the disk raised (full, read-only, no permission), else None."""
    if isinstance(exc, StorageError):
        return exc
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    return StorageError(f"{where}{exc.strerror or exc}", STORAGE_ERRNOS[exc.errno])
