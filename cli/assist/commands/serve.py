"""`assist serve`: REST, a WebSocket of events and the web dashboard."""

from __future__ import annotations

import click

from ._common import load_config


@click.command()
@click.option("--host", default=None, help="The address to listen on (default serve.host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default serve.port, else 8770.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve HTTPS with this certificate (needed off loopback).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), default=None, help="Its private key.")
@click.option("--login-url", is_flag=True, help="Print a fresh login link for the dashboard and exit.")
def serve(host: str | None, port: int | None, certfile: str | None, keyfile: str | None, login_url: bool) -> None:
    """Watch and administer the queues from a browser or over HTTP.

    The dashboard (/) shows queues, running tasks, tasks waiting for approval (with what they would do,
    and approve / reject buttons), failed tasks and recent errors, updated live. The API (/api/...,
    /metrics, described at /openapi.json) takes a bearer JWT from `assist token jwt --audience serve`.
    A browser signs in once with the login link printed at start (valid ten minutes, usable once).
    Needs the token store (`assist token init`); listens on loopback unless told otherwise, and then only
    over HTTPS with allow_remote = true.

    \b
    Examples:
      assist serve                                   # then open the printed login link
      assist serve --login-url                       # a new link for a running server
      curl -H "Authorization: Bearer $(assist token jwt --audience serve)" http://127.0.0.1:8770/api/queues
    """
    from ..serve.start import start

    start(load_config(), host, port, certfile, keyfile, login_url, click.echo)
