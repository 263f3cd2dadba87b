"""`assist act`: the action stage."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._stage_options import run_stage, stage_options


@click.command()
@stage_options
@click.option("--dry-run", is_flag=True, help="Plan the actions and record them, but do nothing.")
def act(dry_run: bool, **options: Any) -> None:
    """Carry out each task's actions: the route's fixed ones and those the model proposed.

    A route in assist.toml lists the actions it may take; anything else is refused and recorded. Actions
    in the route's `confirm` list park the task in hold/ until `assist queue approve ID`. Every action is
    journaled, so a retried or redelivered task never repeats one that finished.

    \b
    Examples:
      assist act --from act --once
      assist act --dry-run < tasks.jsonl
      assist queue ls --state hold          # what waits for approval
    """
    from ..stages.act import ActStage

    sys.exit(run_stage(ActStage(dry_run), **options))
