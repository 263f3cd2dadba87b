"""`assist demo`: the whole pipeline on a sample mailbox, with local servers and the embedded models."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--dir", "home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The demo's home, kept between runs (default: demo/home in a checkout, "
                   "~/.local/share/assist-demo when installed).")
@click.option("--mailbox", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of .eml files to deliver (default: the 30 sample messages); those of "
                   "its sent/ go to the Sent folder (whom you wrote to: a reply is drafted only to them).")
@click.option("--keep", is_flag=True,
              help="Keep the mail servers up at the end (until Ctrl-C), to approve, `assist top` or `assist serve`.")
@click.option("--yes", "-y", "approve", is_flag=True,
              help="Approve the drafted replies and flags without asking (on a terminal the demo asks).")
@click.option("--model", default=None, metavar="NAME",
              help="The catalog model to write with (`assist models ls`), pulled if needed (default: the one "
                   "the home has, else qwen2.5-coder-1.5b).")
def demo(home: Path | None, mailbox: Path | None, keep: bool, approve: bool, model: str | None) -> None:
    """Run the pipeline end to end on a sample mailbox, all on this machine: a local IMAP server
    (dovecot) and SMTP server, the MiniLM intent model and a catalog model through llama.cpp
    (Qwen2.5-Coder-1.5B unless the home has another or --model names one). Ends with a table
    of what happened to each message, the notes it wrote and what waits for you; on a terminal it
    offers to approve the drafted replies there and then. A second run finds nothing new.

    \b
    Examples:
      scripts/demo                       # sets up what it needs, then runs this
      assist demo --dir /tmp/assist-demo --keep
      assist demo --model smollm2-135m   # the small, fast model (100 MB instead of 1.1 GB)
    """
    from ..extras import require

    for module in ("aiosmtpd", "llama_cpp", "onnxruntime", "tokenizers"):  # before any server starts
        require(module, "demo")
    from ..ai.pull import find
    from ..demo.showcase import default_home, run, sample_mailbox

    chosen = find(model) if model else None

    def shown_then_asked(question: str, plans: list[str]) -> bool:
        click.echo("\n".join(plans))
        return click.confirm(question, default=True)

    if approve:
        ask = lambda _question, _plans: True  # noqa: E731
    elif sys.stdin.isatty() and sys.stdout.isatty():
        ask = shown_then_asked
    else:
        ask = None
    sys.exit(run((home or default_home()).resolve(), (mailbox or sample_mailbox()).resolve(), keep=keep, ask=ask,
                 model=chosen))
