"""Regular expressions for patterns that meet untrusted text: RE2, which runs in time linear in the text.

A rule's pattern is matched against whatever a mail or a feed sends. Python's `re` backtracks: a pattern
such as `(a+)+$` against forty a's and a b takes longer than the universe lasts, holding the interpreter
(no timeout or signal gets through). RE2 has no backtracking, so no pattern can hang a stage; it refuses
the few constructs that need it (lookaround, backreferences), which `assist config check` reports. Text is
cut at MAX_TEXT characters before matching.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_TEXT = 200_000


@lru_cache(maxsize=512)
def compiled(pattern: str, ignore_case: bool = False) -> Any:
    """The compiled pattern; ValueError (with RE2's reason) when RE2 cannot take it."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise ValueError(reason.decode() if isinstance(reason, bytes) else str(reason)) from None


def problem(pattern: str) -> str | None:
    """Why RE2 cannot run the pattern, or None."""
    try:
        compiled(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def explain(pattern: str, reason: str) -> str:
    """What is wrong with a pattern RE2 refused, in words for `assist config check`."""
    import re

    try:
        re.compile(pattern)
    except re.error:
        return f"is not a valid regular expression ({reason})"
    return (f"cannot be used: {reason} (patterns run on RE2, in time linear in the text: no lookaround or "
            "backreferences)")


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    return compiled(pattern, ignore_case).search(text[:MAX_TEXT]) is not None


def fullmatch(pattern: str, text: str) -> bool:
    return compiled(pattern).fullmatch(text[:MAX_TEXT]) is not None
