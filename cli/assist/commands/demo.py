"""`assist demo`: the whole pipeline on a sample mailbox, with local servers and the embedded models."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--dir", "home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The demo's home (default: demo/home in the checkout). Kept between runs.")
@click.option("--mailbox", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of .eml files to deliver (default: the sample mailbox, demo/mailbox).")
def demo(home: Path | None, mailbox: Path | None) -> None:
    """Run the pipeline end to end on a sample mailbox, all on this machine: a local IMAP server
    (dovecot) and SMTP server, the MiniLM intent model and SmolLM2 through llama.cpp. Ends with a table
    of what happened to each message. A second run finds nothing new.

    \b
    Examples:
      scripts/demo                       # sets up what it needs, then runs this
      assist demo --dir /tmp/assist-demo
    """
    from ..extras import require

    for module in ("aiosmtpd", "llama_cpp", "onnxruntime", "tokenizers"):  # before any server starts
        require(module, "demo")
    from ..demo.showcase import repo_root, run

    root = repo_root()
    sys.exit(run((home or root / "demo" / "home").resolve(), (mailbox or root / "demo" / "mailbox").resolve()))
