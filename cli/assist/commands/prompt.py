"""`assist prompt`: build each task's prompt from its route's template."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import load_config
from ._stage_options import run_stage, stage_options


@click.command()
@stage_options
def prompt(**options: Any) -> None:
    """Render the route's prompt template over each task (its data, intent and the context found in
    memory), fitted to the model's context window, into the task's `prompt` section.

    A prompt too long for the model is cut on purpose (least similar context first, then the longest
    text fields) and the cut is recorded in `prompt.cut`. Tasks whose route has no template pass through.
    Templates: prompts/NAME.md, overridden by $ASSIST_HOME/prompts/NAME.md (docs/prompts.md).

    \b
    Examples:
      assist ingest imap --once | assist classify | assist prompt | assist run | assist act
      assist prompt --from prompt --to run --follow
    """
    from ..stages.prompt import PromptStage

    sys.exit(run_stage(PromptStage(load_config()), **options))
