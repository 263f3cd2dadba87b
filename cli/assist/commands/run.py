"""`assist run`: ask a model each task's prompt."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import load_config
from ._stage_options import run_stage, stage_options


@click.command()
@stage_options
@click.option("--stream", is_flag=True, help="Also show each reply on stderr as it is generated.")
def run(stream: bool, **options: Any) -> None:
    """Send each task's prompt to a model and add the reply to the task's `result` section.

    The model is the one the prompt names, else one with the route's tags, else the first healthy one
    in [models]; a model that is down is skipped for the next. When none answers, the task waits and is
    retried (exit 75 when reading stdin). A reply that should be JSON is validated against the
    template's schema, with one repair round.

    \b
    Examples:
      assist classify < tasks.jsonl | assist prompt | assist run --stream | assist act
      assist run --from run --to act --follow
    """
    from ..stages.run import RunStage

    sys.exit(run_stage(RunStage(load_config(), stream=stream), **options))
