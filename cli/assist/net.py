"""Reaching other machines: the one privacy gate (nothing goes beyond this machine unless
`allow_remote = true`), and HTTP requests whose redirects cannot carry a request past the checks its
first address passed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .printable import without_password

if TYPE_CHECKING:
    from .config import Config

LOOPBACK = ("127.0.0.1", "localhost", "::1")
REDIRECTS = (301, 302, 303, 307, 308)


class RemoteNotAllowed(ConfigError):
    """An address beyond this machine while allow_remote is false."""


def is_loopback(host: str) -> bool:
    return host in LOOPBACK


def untrusted(reason: str, how: str) -> str:
    """What to say of a server certificate this machine does not trust: why (OpenSSL's reason, such as
    "self-signed certificate"), and `how` a person trusts a server of their own (Proton Bridge's, a home
    server's, a private CA's)."""
    return (f"the server's certificate is not trusted ({reason}); nothing was sent. For a server of your own, "
            f"trust its certificate with {how}")


def remote_problem(url: str, allow_remote: bool, what: str) -> str | None:
    """Why `what` may not reach url (it is not this machine and allow_remote is false), or None."""
    if allow_remote or is_loopback(host_of(url) if "://" in url else url):
        return None
    return f"{what}: {without_password(url)} is not on this machine; set allow_remote = true to use it"


def require_local(url: str, config: Config, what: str) -> None:
    """The privacy gate: RemoteNotAllowed unless url is on this machine or the config allows remote ones.
    `url` may also be a bare host name."""
    problem = remote_problem(url, config.allow_remote, what)
    if problem:
        raise RemoteNotAllowed([problem])


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def request(method: str, url: str, *, check: Callable[[str], None], session: Any = None, max_redirects: int = 5,
            **kwargs: Any) -> Any:
    """requests' request, following a redirect only when `check` accepts its target as it accepted `url`.

    `check(url)` raises (the caller's own error: refused, not allowed) for an address the caller may not
    reach; it is called for the first address and for every redirect, before anything is sent there. A
    redirect to another host drops the Authorization header; a 303 (and a 301 or 302 of a POST) goes on
    as a GET without the body, as browsers do; 307 and 308 send the same request again."""
    from urllib.parse import urljoin, urlsplit

    import requests

    send = session.request if session is not None else requests.request
    headers = dict(kwargs.pop("headers", None) or {})
    for _ in range(max_redirects + 1):
        check(url)
        response = send(method, url, headers=headers, allow_redirects=False, **kwargs)
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or not location:
            return response
        target = urljoin(url, location)
        if urlsplit(target).netloc != urlsplit(url).netloc:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if response.status_code == 303 or (response.status_code in (301, 302) and method.upper() == "POST"):
            method = "GET"
            kwargs.pop("data", None)
            kwargs.pop("json", None)
        response.close()
        url = target
    raise requests.TooManyRedirects(f"more than {max_redirects} redirects from {url}")
