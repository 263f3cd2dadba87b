"""What the executors share about reaching other machines: the allow_remote policy and stored credentials."""

from __future__ import annotations

from typing import Any

from ..net import RemoteNotAllowed, require_local


def require_local_or_allowed(host: str, ctx: Any, what: str) -> None:
    """The privacy gate (net.require_local), as an action sees it: refused, not run."""
    from .registry import Refused

    try:
        require_local(host, ctx.config, what)
    except RemoteNotAllowed as exc:
        raise Refused(str(exc)) from None


def password(section: dict[str, Any], ctx: Any) -> str | None:
    """A section's secret (auth/secrets.py)."""
    from ..auth.secrets import section_secret

    return section_secret(section, ctx.config.home)
