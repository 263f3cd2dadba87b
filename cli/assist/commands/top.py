"""`assist top`: a live terminal dashboard."""

from __future__ import annotations

import click

from ._common import load_config


@click.command()
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True, metavar="SECONDS",
              help="How often to look again.")
def top(interval: float) -> None:
    """Watch the queues live: depths per state, tasks running (which command, how old), tasks waiting
    for you and failed ones, throughput and error rate, the latest errors of each component.

    Keys: arrows select a task; a approve (for a task no route was sure of: pick its route), x reject,
    r retry, c cancel, i (or Enter) inspect; q quits.
    Needs the `tui` extra (Textual). Works in an 80x24 terminal and over ssh.

    \b
    Example:
      assist top
    """
    try:
        from ..top import run
    except ImportError as exc:
        raise click.UsageError(f"assist top needs the tui extra: pip install 'assist[tui]' ({exc.name} is missing)"
                               ) from None
    from ..config_file import config_now
    from ..decide.engine import rejection_learner
    from ..stores import open_stores

    config = load_config()
    run(config.backend(), config.home / "logs", interval, lambda: config_now(config),
        open_stores(config).approvals, rejection_learner(config, "top"))
