"""Serving assist over HTTP (`assist ingest http`, `assist serve`): where a server may listen, and the
limits that keep slow or too many clients from holding it.

One rule for both: loopback only, unless `allow_remote = true` and the server has a certificate (HTTPS).
Each connection must send a request's headers within `header_timeout_s` of opening (and of its previous
response), or it is closed; at most `max_connections` are open at once, the rest are closed as they
come. A request body must arrive within `body_timeout_s` (the application enforces it: see
`ingest/http.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, UsageError
from .net import is_loopback

if TYPE_CHECKING:
    from .config import Config


@dataclass
class Limits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 256


def check_address(config: Config, host: str, certfile: str | None, keyfile: str | None, what: str) -> None:
    """Refuse an address other than loopback unless allow_remote is set and TLS is configured."""
    if bool(certfile) != bool(keyfile):
        raise UsageError("give both --certfile and --keyfile")
    if is_loopback(host):
        return
    if not config.allow_remote:
        raise ConfigError([f"{what}: {host} is not loopback; set allow_remote = true to listen there (with a "
                           "certificate)"])
    if not (certfile and keyfile):
        raise UsageError(f"listening on {host} needs HTTPS: give --certfile and --keyfile")


def guarded_protocol(limits: Limits) -> type:
    """uvicorn's own HTTP protocol (httptools when installed, else h11), closing connections that are slow
    to send their headers, and those beyond the cap."""
    import asyncio

    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class Guarded(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _timer: asyncio.TimerHandle | None = None
        _seen: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.close()
                return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._seen = self.cycle
            self._timer = self.loop.call_later(limits.header_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            if self.cycle is self._seen and not self.transport.is_closing():
                self.transport.close()  # no request's headers in time

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._timer is not None and self.cycle is not self._seen:
                self._disarm()  # a request began: its body has a deadline of its own

        def handle_websocket_upgrade(self, *args: Any) -> None:
            self._disarm()  # the connection is a WebSocket's from now on
            super().handle_websocket_upgrade(*args)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same time for its headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Guarded


def run(app: Any, host: str, port: int, *, certfile: str | None = None, keyfile: str | None = None,
        limits: Limits | None = None, **options: Any) -> None:
    import uvicorn

    limits = limits or Limits()
    uvicorn.run(app, host=host, port=port, http=guarded_protocol(limits), log_level="warning", access_log=False,
                server_header=False, timeout_keep_alive=5, ssl_certfile=certfile, ssl_keyfile=keyfile, **options)
