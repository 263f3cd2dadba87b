"""What a queue hands back is checked before anyone works on it.

A task file in a spool (or an entry in Redis) is data like any other: a careless `echo '{}' >` into new/,
a truncated write, a directory or a symbolic link where a file should be, an id that is not the one its
name gives. A document is read without following links, never more than MAX_DOC_BYTES, and must be a
task (the JSON Schema) whose id is its file's. One that is not is set aside in failed/ with the reason
(an `assist.invalid` record), and the batch it came in goes on.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

MAX_DOC_BYTES = 64 << 20
INVALID_TYPE = "assist.invalid"  # a record standing in failed/ for something that was not a task


class InvalidTask(ValueError):
    """A queued document that is not a task: the reason says why."""


def read_file(path: str) -> bytes:
    """The bytes of a regular file, read without following a symbolic link or blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise InvalidTask("a symbolic link, not a task file") from None
        if exc.errno == 21:  # EISDIR
            raise InvalidTask("a directory, not a task file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidTask("a directory, not a task file" if stat.S_ISDIR(st.st_mode) else "not a regular file")
        if st.st_size > MAX_DOC_BYTES:
            raise InvalidTask(f"{st.st_size} bytes, over the {MAX_DOC_BYTES >> 20} MiB a task may have")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_document(data: bytes | str, expected_id: str) -> dict[str, Any]:
    """The task in `data`, which must be a task document whose id is `expected_id`."""
    import orjson

    from ..task import problems

    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidTask(f"not JSON ({str(exc).splitlines()[0][:100]})") from None
    if not isinstance(doc, dict):
        raise InvalidTask(f"a JSON {type(doc).__name__}, not a task object")
    found = problems(doc)
    if found:
        raise InvalidTask("not a task: " + "; ".join(found[:3]))
    if doc.get("id") != expected_id:
        raise InvalidTask(f"its id {str(doc.get('id'))[:80]!r} is not the one its name gives ({expected_id})")
    return doc


def invalid_record(task_id: str, queue: str, reason: str, kept_as: str | None, raw: bytes | str | None
                   ) -> dict[str, Any]:
    """What failed/ keeps for a document that was not a task: why, where the original is, its start."""
    from ..task import normalize

    data: dict[str, Any] = {"reason": reason}
    if kept_as:
        data["kept_as"] = kept_as
    if raw:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        data["excerpt"] = text[:2000]
    doc = normalize({"id": task_id, "type": INVALID_TYPE, "data": data}, source=f"queue:{queue}", max_attempts=1)
    doc["meta"]["last_error"] = f"not a task: {reason}"
    return doc


_noticed: set[str] = set()


def notice(what: str) -> None:
    """Say once per process, on stderr, that an admin command skipped something it could not read."""
    if what not in _noticed:
        _noticed.add(what)
        sys.stderr.write(f"assist: skipped {what}\n")
