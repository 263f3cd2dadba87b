"""`assist enqueue`: JSON lines on stdin into a queue."""

from __future__ import annotations

import sys

import click

from ._common import backend, load_config, queue_name


@click.command()
@click.option("--queue", "-q", "queue_name", default="inbox", show_default=True, callback=queue_name,
              help="The queue to put tasks in.")
@click.option("--priority", "-p", type=click.IntRange(0, 9), default=None,
              help="0 (served first) to 9; overrides the tasks' own priority (default 5).")
@click.option("--delay", default="0s", show_default=True, metavar="DURATION",
              help="Hold the tasks back this long before they are ready (e.g. 30s, 15m, 2h).")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="Also append each bad input line, as it came, to this file.")
@click.option("--source", default="stdin", show_default=True, help="The `source` recorded on tasks that lack one.")
def enqueue(queue_name: str, priority: int | None, delay: str, rejects: str | None, source: str) -> None:
    """Put tasks, one JSON object per line on stdin, into a queue.

    Each line needs at least a "type"; id, created, source, priority and meta are filled in. A bad line
    (invalid JSON, not a task, longer than limits.max_line_bytes) is reported on stderr with its line
    number and skipped; the good lines are still enqueued. Tasks are stored in batches that share their
    disk syncs, and are safe on disk before the command exits.

    A task whose id the queue already holds (in any state) is not stored again: the first is kept, the
    line is named on stderr and counted in "duplicates". If the disk refuses a write (full, read-only),
    the summary says how far it got ("last_line": the last line stored) and the command stops with a
    one-line error: exit 75 when space may come back, 73 when the spool cannot be written; the lines
    after it were not read, so the writer of the pipe sees it stop.

    Prints a JSON summary on stdout. Exit status: 0 all enqueued, 65 some lines were bad, 73 or 75 stopped.

    \b
    Examples:
      echo '{"type": "text", "data": {"text": "call mum"}}' | assist enqueue
      assist ingest imap --once | assist enqueue --queue mail --priority 3
      cat events.jsonl | assist enqueue --delay 15m --rejects bad.jsonl
    """
    from .. import errors, jsonl
    from ..enqueue import Stopped, enqueue_stream
    from ..timeutil import parse_duration

    try:
        delay_s = parse_duration(delay)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--delay") from None
    import orjson

    from .. import log

    config = load_config()
    queue = backend(config).queue(queue_name)
    if sys.stdin.isatty():
        click.echo("assist enqueue: reading tasks as JSON lines from the terminal; end with Ctrl-D", err=True)
    reader = jsonl.LineReader(sys.stdin.fileno(), config.max_line_bytes)
    bad = jsonl.Rejects("assist enqueue", rejects)
    stopped = None
    try:
        result = enqueue_stream(reader, queue, bad, source=source, priority=priority, delay_s=delay_s)
    except Stopped as exc:
        result, stopped = exc.result, exc
    finally:
        bad.close()
    log.for_component(config, "enqueue").info("enqueued", queue=queue_name, count=result.enqueued,
                                              duplicates=result.duplicates, bad_lines=result.bad_lines,
                                              stopped=stopped is not None)
    summary = {"queue": queue_name, "enqueued": result.enqueued, "duplicates": result.duplicates,
               "bad_lines": result.bad_lines, "last_line": result.last_line}
    click.echo(orjson.dumps(summary).decode())
    if stopped is not None:
        cause = stopped.__cause__ or stopped
        fault = errors.storage_error(cause) or errors.StorageError(str(cause), errors.TEMPFAIL)
        raise errors.StorageError(f"enqueue: stopped at line {stopped.first_line} after storing {result.enqueued} "
                                  f"task(s): {fault}", fault.exit_code)
    sys.exit(errors.DATAERR if result.bad_lines else errors.OK)
