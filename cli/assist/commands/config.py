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
    """Validate assist.toml in one pass; print every problem as FILE: KEY: PROBLEM (exit 78 if there are any).

    It finds everything at once: the schema (unknown keys, wrong types, durations), rules (patterns,
    routes), the routes' actions (unknown types, fixed actions and their arguments), models and templates,
    alerts, shell patterns, and what a route needs that is not configured (the mail account, the notes
    folder: the file loads, but that route's tasks would fail), and the model files [classify] names.
    Warnings (things that work but are riskier than they look, such as a shell allowlist entry for a
    program that can run others) are printed as `warning: FILE: KEY: ...` and do not change the exit
    code.

    \b
    Example:
      assist config check && echo ok
    """
    import sys

    from ..config_file import problems, read, warnings
    from ..errors import CONFIG
    from ..home import CONFIG_NAME, find_home

    home = find_home()
    path = home / CONFIG_NAME
    if not path.exists():
        click.echo(f"ok: {home} (no assist.toml: defaults apply; `assist init` writes one)")
        return
    raw = read(path)
    errors, gaps = problems(raw, path)
    if not errors:  # the model files are read here only: every command's loading of the config stays light
        from ..config import Config
        from ..decide.model_file import file_problems

        gaps += [f"{path}: {p}" for p in file_problems(Config(home=home, path=path, raw=raw))]
    for line in [*errors, *gaps]:
        click.echo(f"assist: {line}", err=True)
    for line in warnings(raw, path) if not errors else []:
        click.echo(f"warning: {line}", err=True)
    if errors or gaps:
        sys.exit(CONFIG)
    click.echo(f"ok: {path}")


@config.command()
def paths() -> None:
    """Print the home and the folders under it.

    \b
    Example:
      assist config paths
    """
    from ..config_file import load
    from ..printable import without_password

    cfg = load()
    spool = cfg.queue_url
    click.echo(f"home    {cfg.home}")
    click.echo(f"config  {cfg.path or '(none: defaults)'}")
    click.echo(f"spool   {without_password(spool) if '://' in spool or spool.startswith('/') else cfg.home / spool}")
    click.echo(f"logs    {cfg.home / 'logs'}")
