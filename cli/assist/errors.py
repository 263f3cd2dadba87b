"""Exceptions and the exit codes they map to (DESIGN §5, docs/exit-codes.md)."""

from __future__ import annotations

OK = 0
TASKS_FAILED = 1  # some tasks failed and were kept (failed/ or dead letter)
USAGE = 2
DATAERR = 65  # bad input lines
UNAVAILABLE = 69  # a backend or server is unavailable
TEMPFAIL = 75  # temporary failure, try later
CONFIG = 78  # bad configuration


class AssistError(Exception):
    """An error with a message meant for the user and an exit code."""

    exit_code = TASKS_FAILED


class UsageError(AssistError):
    exit_code = USAGE


class ConfigError(AssistError):
    exit_code = CONFIG

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class Unavailable(AssistError):
    exit_code = UNAVAILABLE


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


class PermanentError(AssistError):
    """A stage failed in a way that will not improve: the task goes to failed/ at once."""
