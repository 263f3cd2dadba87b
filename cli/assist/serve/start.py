"""Starting `assist serve`: the keys, the address checks, uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..httpd import check_address

if TYPE_CHECKING:
    from ..config import Config


def start(config: Config, host: str | None, port: int | None, certfile: str | None, keyfile: str | None,
          login_url_only: bool, echo: Any) -> None:
    from .. import log as logmod
    from ..auth.store import TokenStore
    from .auth import Auth, login_path

    settings = config.section("serve")
    host = host or settings["host"]
    port = port or settings["port"]
    check_address(config, host, certfile, keyfile, "serve.host")
    store = TokenStore(config.home)
    if not store.exists():
        raise ConfigError(["assist serve signs its sessions with the token store's key: run `assist token init`"])
    auth = Auth(store.jwt_key())
    scheme = "https" if certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{port}"
    if login_url_only:
        echo(base + login_path(auth.login_token()))
        return

    from .. import httpd
    from .app import build_app

    log = logmod.for_component(config, "serve")
    from ..config_file import config_now
    from ..decide.engine import rejection_learner
    from ..stores import open_stores

    app = build_app(config.backend(), config.home / "logs", auth, log, config=lambda: config_now(config),
                    approvals=open_stores(config).approvals, learn=rejection_learner(config, "api"))
    echo(f"assist serve: {base}/  (API description: {base}/openapi.json)", err=True)
    echo(f"sign in to the dashboard (link valid 10 minutes, once): {base}{login_path(auth.login_token())}", err=True)
    httpd.run(app, host, port, certfile=certfile, keyfile=keyfile, ws="websockets-sansio")
