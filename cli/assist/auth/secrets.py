"""The one way to get a secret: by the name of a token-store entry (an OAuth2 token is refreshed first),
or, for a config section, its `token` or `password_env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def secret(home: Path, name: str) -> str:
    """The value of the token-store entry `name` (a password, key, bearer token or fresh access token)."""
    from .oauth import secret as token_secret
    from .store import TokenStore

    return token_secret(TokenStore(home), name)


def section_secret(section: dict[str, Any], home: Path) -> str | None:
    """A config section's secret: `token` names a token-store entry, `password_env` an environment
    variable; None when it has neither. ConfigError when the variable is not set: cron and systemd start
    without the person's shell's variables, and a sign-in with no password reads as a wrong password."""
    if section.get("token"):
        return secret(home, section["token"])
    name = section.get("password_env")
    if name:
        found = os.environ.get(str(name))
        if found is None:
            from ..errors import ConfigError

            raise ConfigError([f"password_env = {str(name)!r}: {name} is not set here (cron and systemd start without "
                               "your shell's variables); keep the password in the token store instead: "
                               "`assist token set NAME --kind password`, then token = \"NAME\" in its place"])
        return found
    return None
