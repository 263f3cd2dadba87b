"""`assist memory`: the context store the prompts draw on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import DATAERR
from ._common import load_config, print_json, print_table


@click.group()
@click.option("--collection", default=None, help="Use this collection (default: memory.collection, else notes).")
@click.pass_context
def memory(ctx: click.Context, collection: str | None) -> None:
    """The context store: notes and documents, cut into overlapping chunks and embedded offline with
    MiniLM, kept by ChromaDB in $ASSIST_HOME/memory/ (or a Chroma server: memory.url). Routes whose template
    asks for context get the nearest chunks in their prompt.

    \b
    Examples:
      assist memory add ~/notes
      assist memory query "when is the dentist appointment" -k 3
      assist memory ls
      assist memory rm ~/notes/old.md
    """
    ctx.obj = collection


def _memory(ctx: click.Context) -> Any:
    from ..ai.memory import Memory

    return Memory(load_config(), ctx.obj)


@memory.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def add(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Add files, folders of Markdown or text notes, or JSONL files ({"text", "id"?, "title"?} per line).
    Adding a file again replaces its chunks. A JSONL line that is not such an object (or repeats an
    id), or a file that is not text (a PDF, an image), is named on stderr and left out, the others go in
    (exit 65). A link in a folder to a file outside it is left out and named (add the file itself to
    have it).

    \b
    Example:
      assist memory add ~/notes ~/projects/plan.md facts.jsonl
    """
    from ..ai.memory import collect, file_chunks
    from ..printable import printable

    files, left_out = collect(paths)
    for note in left_out:
        click.echo(f"assist memory add: {printable(note)}", err=True)
    chunks, bad = [], []
    for path in files:
        found, problems = file_chunks(path)
        chunks += found
        bad += problems
    for problem in bad:
        click.echo(f"assist memory add: {problem}", err=True)
    store = _memory(ctx)
    interactive = sys.stderr.isatty()
    done = store.add(chunks, progress=(lambda n: click.echo(f"\r{n}/{len(chunks)} chunks", nl=False, err=True))
                     if interactive else None)
    if interactive:
        click.echo(err=True)
    click.echo(f"added {done} chunks from {len(files)} files" + (f"; {len(bad)} left out (said above)" if bad else ""))
    if bad:
        sys.exit(DATAERR)


@memory.command()
@click.argument("text")
@click.option("-k", "k", type=click.IntRange(1, 100), default=4, show_default=True, help="How many chunks.")
@click.option("--max-distance", type=click.FloatRange(0, 2), default=None,
              help="Leave out chunks farther than this cosine distance (0 = same meaning).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def query(ctx: click.Context, text: str, k: int, max_distance: float | None, as_json: bool) -> None:
    """The chunks nearest in meaning to TEXT, nearest first.

    \b
    Example:
      assist memory query "wifi password at the cabin" -k 2 --json
    """
    from ..printable import printable

    store = _memory(ctx)
    found = store.query(text, k=k, max_distance=max_distance)
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo("assist: no notes yet (`assist memory add ~/notes` adds some)" if store.is_empty()
                   else f"assist: nothing within --max-distance {max_distance}", err=True)
    for chunk in found:  # a note's name and text are not ours: no escape sequence reaches the terminal
        click.echo(printable(f"{chunk['distance']:.3f}  {chunk['title'] or chunk['source']}  [{chunk['id']}]"))
        click.echo("    " + printable(chunk["text"][:300]))


@memory.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_sources(ctx: click.Context, as_json: bool) -> None:
    """The sources in the store, with their chunk counts.

    \b
    Example:
      assist memory ls
    """
    sources = _memory(ctx).sources()
    if as_json:
        print_json(sources)
        return
    print_table(["chunks", "source"], [[n, s] for s, n in sources.items()])


@memory.command()
@click.argument("sources", nargs=-1)
@click.option("--id", "ids", multiple=True, help="Remove this chunk id (repeatable).")
@click.pass_context
def rm(ctx: click.Context, sources: tuple[str, ...], ids: tuple[str, ...]) -> None:
    """Forget sources (their paths as added) or single chunks by id.

    \b
    Examples:
      assist memory rm ~/notes/old.md
      assist memory rm --id 3f2a9c01d2e4b5a6-0
    """
    if not sources and not ids:
        raise click.UsageError("name a source or give --id")
    store = _memory(ctx)
    removed = sum(store.remove(source=s) for s in sources) + (store.remove(ids=list(ids)) if ids else 0)
    if removed == 0:
        raise click.ClickException("nothing matched")
    click.echo(f"removed {removed} chunks")
