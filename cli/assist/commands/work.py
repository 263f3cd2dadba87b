"""`assist work`: several stages in one long-lived process."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import load_config
from ._stage_options import run_stage, stage_options


@click.command()
@click.option("--stages", default="classify,prompt,run,act", show_default=True, metavar="LIST",
              help="The stages to run, in order (from classify, prompt, run, act).")
@click.option("--dry-run", is_flag=True, help="act: plan the actions and run none.")
@stage_options
def work(stages: str, dry_run: bool, **options: Any) -> None:
    """Run several stages in one process: each task goes through them in turn, and each model is loaded
    once for the life of the worker. The results are those of the piped commands.

    A task that stops at a stage (held for approval, or failed and retried) resumes at that stage: the
    sections it already has are not computed again. From a queue, two batches are worked on at once
    unless -j says otherwise: one is classified or acted on while the other waits for the model.

    \b
    Examples:
      assist work --from inbox --once                     # all stages, from a cron tick
      assist work --from inbox --follow                   # as a systemd service
      assist ingest imap --once | assist work --stages classify,prompt,run
    """
    from ..stages.pipeline import ORDER, Pipeline, make_stage

    names = [n.strip() for n in stages.split(",") if n.strip()]
    unknown = [n for n in names if n not in ORDER]
    if unknown or not names:
        raise click.BadParameter(f"unknown stage(s) {', '.join(unknown) or '(none)'}; choose from "
                                 f"{', '.join(ORDER)}", param_hint="--stages")
    if names != sorted(names, key=ORDER.index) or len(set(names)) != len(names):
        raise click.BadParameter(f"stages run in the order {', '.join(ORDER)}, each once", param_hint="--stages")
    if options.get("concurrency") is None:
        options["concurrency"] = 2  # one batch is classified or acted on while the other waits for the model
    config = load_config()
    pipeline = Pipeline([make_stage(n, config, dry_run) for n in names])
    sys.exit(run_stage(pipeline, **options))
