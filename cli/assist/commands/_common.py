"""Helpers shared by the command modules: loading the config, tables, JSON output."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Config


def queue_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: a queue name given on the command line, checked as every queue name is."""
    if value is None:
        return None
    from ..errors import UsageError
    from ..queue.base import checked_name

    try:
        return checked_name(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from None


def load_config() -> Any:
    from ..config_file import load

    return load()


def backend(config: Config) -> Any:
    return config.backend()


def print_json(value: Any) -> None:
    import orjson

    from ..jsonl import terminal_safe

    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    sys.stdout.buffer.write(terminal_safe(text) + b"\n")
    sys.stdout.flush()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """An aligned table with a header row; plain tab-free text that stays readable over ssh, with no
    escape sequence from a cell's content (a mail's subject) reaching the terminal."""
    from ..printable import printable

    text_rows = [[("" if v is None else printable(str(v))) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    for row in text_rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
