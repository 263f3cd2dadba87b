"""`assist config`: check assist.toml and show where assist keeps its files."""

from __future__ import annotations

import click


@click.group()
def config() -> None:
    """Check assist.toml and show where assist keeps its files.

    \b
    Examples:
      assist config check
      assist --home ~/assist config paths
    """


@config.command()
def check() -> None:
    """Validate assist.toml; print every problem as FILE: KEY: PROBLEM (exit 78 if there are any).

    Warnings (things that work but are riskier than they look, such as a shell allowlist entry for a
    program that can run others) are printed as `warning: FILE: KEY: ...` and do not change the exit code.

    \b
    Example:
      assist config check && echo ok
    """
    from ..config_file import load, warnings

    cfg = load()
    for line in warnings(cfg.raw, cfg.path) if cfg.path else []:
        click.echo(f"warning: {line}", err=True)
    where = cfg.path or f"{cfg.home} (no assist.toml: defaults apply)"
    click.echo(f"ok: {where}")


@config.command()
def paths() -> None:
    """Print the home and the folders under it.

    \b
    Example:
      assist config paths
    """
    from ..config_file import load

    cfg = load()
    spool = cfg.queue_url
    click.echo(f"home    {cfg.home}")
    click.echo(f"config  {cfg.path or '(none: defaults)'}")
    click.echo(f"spool   {spool if spool.startswith(('/', 'redis')) else cfg.home / spool}")
    click.echo(f"logs    {cfg.home / 'logs'}")
