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


DEFAULT_PORTS = {"http": "80", "https": "443"}


def url_allowed(url: str, patterns: list[str]) -> bool:
    """Whether a URL matches one of an allowlist's patterns (`https://*.slack.com/services/*`), part by
    part: the scheme exactly, the host by its own glob (a `*` there never runs into the path), the port
    (`*` for any), then the path and query by a glob. A URL with a user name or password
    (`https://hooks.slack.com@evil.example/`: its host is evil.example) or a backslash matches none."""
    from fnmatch import fnmatchcase

    if "\\" in url:
        return False
    found = _url_parts(url)
    if found is None or "@" in found[1]:
        return False
    for pattern in patterns:
        wanted = _url_parts(str(pattern))
        if wanted is not None and all(fnmatchcase(have, want) for have, want in zip(found, wanted, strict=True)):
            return True
    return False


def _url_parts(text: str) -> tuple[str, str, str, str] | None:
    """(scheme, host, port, path and query) of a URL or a pattern, the port given by the scheme when not."""
    from urllib.parse import urlsplit

    try:
        split = urlsplit(text)
    except ValueError:
        return None
    netloc = split.netloc.lower()
    if netloc.startswith("["):  # [::1]:8080, the brackets left out (to a glob they are a set of characters)
        host, _, after = netloc[1:].partition("]")
        port = after.removeprefix(":")
    else:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    scheme = split.scheme.lower()
    return scheme, host, port or DEFAULT_PORTS.get(scheme, ""), (split.path or "/") + (
        f"?{split.query}" if split.query else "")


def password(section: dict[str, Any], ctx: Any) -> str | None:
    """A section's secret (auth/secrets.py)."""
    from ..auth.secrets import section_secret

    return section_secret(section, ctx.config.home)
