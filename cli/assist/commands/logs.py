"""`assist logs`: read the per-component JSON-lines logs."""

from __future__ import annotations

import click


@click.command()
@click.option("--component", "-c", default=None, help="Only this component (e.g. passthrough, enqueue).")
@click.option("--level", "-l", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="The lowest level shown.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records as they are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
@click.option("--tail", "-n", type=click.IntRange(min=0), default=50, show_default=True,
              help="Start with this many of the latest records.")
def logs(component: str | None, level: str, follow: bool, as_json: bool, tail: int) -> None:
    """Show log records (ids, types, timings, errors; never message bodies).

    \b
    Examples:
      assist logs --level warning
      assist logs --component passthrough --follow
      assist logs --json | jq 'select(.event == "failed")'
    """
    from ..config_file import load
    from ..jsonl import terminal_safe
    from ..logview import follow_records, format_record, read_records

    cfg = load()
    folder = cfg.home / "logs"
    records = read_records(folder, component, level)
    if not records and not follow:
        click.echo(f"no log records{' for ' + component if component else ''} in {folder}", err=True)
    for record, raw in records[-tail:] if tail else []:
        click.echo(terminal_safe(raw.encode()).decode() if as_json else format_record(record))
    if follow:
        try:
            for record, raw in follow_records(folder, component, level):
                click.echo(terminal_safe(raw.encode()).decode() if as_json else format_record(record))
        except KeyboardInterrupt:
            pass
