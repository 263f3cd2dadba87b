"""What the executors share about reaching other machines: the allow_remote policy and stored credentials."""

from __future__ import annotations

import os
from typing import Any

from ..net import is_loopback


def require_local_or_allowed(host: str, ctx: Any, what: str) -> None:
    """Refuse a host other than this machine unless the config says allow_remote = true."""
    from .registry import Refused

    if not is_loopback(host) and not ctx.config.raw.get("allow_remote", False):
        raise Refused(f"{what}: {host} is not this machine and allow_remote is false")


def password(section: dict[str, Any], ctx: Any) -> str | None:
    """A section's secret: `token` names a token-store entry, or `password_env` an environment variable."""
    if section.get("token"):
        from ..auth.oauth import secret
        from ..auth.store import TokenStore

        return secret(TokenStore(ctx.config.home), section["token"])
    if section.get("password_env"):
        return os.environ.get(section["password_env"])
    return None
