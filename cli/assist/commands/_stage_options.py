"""The flags every stage command shares, and the call into the stage runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ._common import queue_name


def stage_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--from", "source", metavar="QUEUE", default=None, callback=queue_name,
                     help="Take tasks from this queue instead of stdin."),
        click.option("--to", "dest", metavar="QUEUE", default=None, callback=queue_name,
                     help="Put results in this queue instead of writing them to stdout."),
        click.option("--once/--follow", default=True, show_default=True,
                     help="With --from: drain the ready tasks (and what arrives meanwhile) then exit, or keep waiting "
                          "for new ones. A --once worker steps aside while another drains the same queue here."),
        click.option("--concurrency", "-j", type=click.IntRange(1, 256), default=None,
                     help="Tasks (or batches) worked on at once (default: 1; assist work: 2)."),
        click.option("--timeout", "timeout", metavar="DURATION", default=None,
                     help="Give up on a task after this long (default: the task's meta.timeout_s, "
                          "else queue.timeout)."),
        click.option("--dead-letter", metavar="QUEUE", default=None, callback=queue_name,
                     help="Reading stdin: keep tasks that fail for good in this queue's failed/ "
                          "(default: the --hold-queue)."),
        click.option("--hold-queue", metavar="QUEUE", default=None, callback=queue_name,
                     help="Reading stdin: park held tasks in this queue's hold/ until approved; each run "
                          "first carries on with what it has ready (default: a queue named after the stage)."),
        click.option("--rejects", type=click.Path(dir_okay=False), default=None,
                     help="Reading stdin: also append bad input lines to this file."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def run_stage(stage: Any, *, source: str | None, dest: str | None, once: bool, concurrency: int | None,
              timeout: str | None, dead_letter: str | None, rejects: str | None, hold_queue: str | None) -> int:
    from ..config_file import load
    from ..stages.runner import Runner, RunOptions
    from ..timeutil import parse_duration

    if not source and not once:
        raise click.UsageError("--follow needs --from QUEUE (reading stdin ends at end of input)")
    try:
        timeout_s = parse_duration(timeout) if timeout else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    options = RunOptions(source=source, dest=dest, once=once, concurrency=concurrency or 1, timeout_s=timeout_s,
                         dead_letter=dead_letter, rejects_path=rejects, hold_queue=hold_queue,
                         alone=bool(source and once))
    runner = Runner(stage, load(), options)
    code = runner.run()
    if runner.stuck:  # a stage's thread still runs, maybe in C (llama.cpp): the interpreter's shutdown would
        end_now(code)  # free what it computes with under it (a segmentation fault), so end here
    if runner.restart:
        from ..stages.config_watch import start_again

        start_again(runner.stage.name)
    return code


def end_now(code: int) -> None:
    """Exit with `code` without the interpreter's shutdown: what is written is written (the queues write
    durably, logs are unbuffered appends); stdout and stderr are flushed first."""
    import contextlib
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
