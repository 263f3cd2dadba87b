"""`assist stage`: built-in utility stages, run by the shared stage runner."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._stage_options import run_stage, stage_options


@click.group()
def stage() -> None:
    """Run a built-in utility stage through the stage runner (the same flags as every stage).

    \b
    Example:
      assist stage passthrough --from inbox --to outbox --once
    """


@stage.command()
@stage_options
@click.option("--sleep", "sleep_s", type=click.FloatRange(min=0), default=0.0,
              help="Pretend each task takes this many seconds (to try timeouts and cancellation).")
def passthrough(sleep_s: float, **options: Any) -> None:
    """Copy tasks through unchanged, adding a trace entry: a check of the plumbing.

    \b
    Examples:
      echo '{"type": "text"}' | assist stage passthrough
      assist stage passthrough --from inbox --to outbox --follow --concurrency 4
    """
    from ..stages.passthrough import Passthrough

    sys.exit(run_stage(Passthrough(sleep_s), **options))
