"""OAuth2 access tokens: refreshed shortly before they expire, and once after a 401."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ..errors import AssistError, TemporaryError, Unavailable
from ..timeutil import now_ms, parse_rfc3339, rfc3339
from .store import TokenStore

SKEW_S = 60  # refresh this long before the access token expires


class AccessToken(str):
    """An OAuth2 access token: a mail server is signed in to with it (SASL XOAUTH2), not given it as a
    password (mail.py); anywhere else it is the bearer token it is. `renewed()` is a new one from the
    token endpoint, for a server that refused this one before its time (SignInAgain when the refresh
    token is refused too)."""

    renewed: Callable[[], AccessToken]


class SignInAgain(AssistError):
    """The refresh token was revoked or expired: only the user can fix it, by signing in again."""


def _expiring(entry: dict[str, Any], skew_s: float) -> bool:
    expires = entry.get("expires_at")
    if not entry.get("access_token"):
        return True
    return bool(expires) and parse_rfc3339(str(expires)) - now_ms() < skew_s * 1000


def refresh(store: TokenStore, name: str, *, force: bool = False, skew_s: float = SKEW_S,
            timeout_s: float = 15.0) -> dict[str, Any]:
    """Use the refresh token (RFC 6749 §6) and store the new access token. Under the store's lock, so
    processes refreshing at once make one request; the others find the token fresh and use it."""
    with store.transaction() as data:
        entry = data["entries"].get(name)
        if entry is None or entry.get("kind") != "oauth2":
            raise AssistError(f"token {name!r} is not an OAuth2 token")
        if not force and not _expiring(entry, skew_s):
            return dict(entry)
        form = {"grant_type": "refresh_token", "refresh_token": entry["refresh_token"]}
        if entry.get("client_id"):
            form["client_id"] = entry["client_id"]
        if entry.get("client_secret"):
            form["client_secret"] = entry["client_secret"]
        if entry.get("scopes"):
            form["scope"] = " ".join(entry["scopes"])
        response = _post(entry["token_url"], form, timeout_s, name)
        if response.status_code in (400, 401):
            error = _json(response).get("error", f"HTTP {response.status_code}")
            raise SignInAgain(f"token {name!r}: the token endpoint refused the refresh token ({error}); "
                              f"sign in again and store the new one with `assist token set {name} --kind oauth2`")
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryError(f"token {name!r}: the token endpoint answered HTTP {response.status_code}")
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            raise AssistError(f"token {name!r}: unexpected answer from the token endpoint "
                              f"(HTTP {response.status_code})")
        entry.update(_tokens(body, entry))
        return dict(entry)


def _tokens(body: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """What a token endpoint's answer changes in a stored entry: the access token, its expiry, and a
    refresh token when one is given (a rotating one replaces the old)."""
    expires_in = body.get("expires_in")
    return {"access_token": body["access_token"],
            "refresh_token": body.get("refresh_token") or entry.get("refresh_token"),
            "expires_at": rfc3339(now_ms() + int(float(expires_in) * 1000)) if expires_in else None,
            "updated_at": rfc3339()}


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Where a provider signs in with a device code, and the scopes for reading and sending mail (Google's
# device flow allows no mail scope: a Gmail account signs in with an app password instead)
DEVICE_PROVIDERS = {"microsoft": {
    "device_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
    "token_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
    "scopes": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access",
}}
SHOWABLE = re.compile(r"https?://[\x21-\x7e]{1,500}")  # a web address in printable ASCII, nothing else
USER_CODE = re.compile(r"[\x21-\x7e]{1,64}")


def device_sign_in(name: str, device_url: str, token_url: str, client_id: str, scopes: list[str],
                   show: Callable[[str, str, int], None]) -> dict[str, Any]:
    """Sign in with a device code (RFC 8628), for a machine with no browser: the provider gives a code,
    `show(address, code, seconds)` tells the person where to type it, and the token endpoint is polled
    as often as the provider allows until they have signed in elsewhere. Returns the oauth2 entry to keep
    (a public client: no secret); an AssistError when declined, expired or refused. The provider's
    answer reaches the person's terminal: an address or code that is not plain printable text is refused."""
    from ..printable import printable

    response = _post(device_url, {"client_id": client_id, "scope": " ".join(scopes)}, 15.0, name)
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("device_code"), str):
        raise AssistError(f"token {name!r}: the device endpoint refused the sign-in "
                          f"({printable(str(body.get('error') or f'HTTP {response.status_code}'))[:100]})")
    address = body.get("verification_uri") or body.get("verification_url")  # Google's older name
    code = body.get("user_code")
    for what, value, form in (("address", address, SHOWABLE), ("code", code, USER_CODE)):
        if not isinstance(value, str) or not form.fullmatch(value):
            shown = printable(repr(value))[:120]
            raise AssistError(f"token {name!r}: the provider's {what} {shown} is not "
                              f"{'a web address' if what == 'address' else 'a code'} to show; nothing stored")
    assert isinstance(address, str) and isinstance(code, str)
    interval = _seconds(body.get("interval"), 5, 1, 60)
    lasts = _seconds(body.get("expires_in"), 900, 60, 3600)
    show(address, code, lasts)
    deadline = time.monotonic() + lasts
    while True:
        time.sleep(interval)
        if time.monotonic() > deadline:
            raise AssistError(f"token {name!r}: the code expired before the sign-in (expired_token): run it "
                              "again; nothing stored")
        response = _post(token_url, {"grant_type": DEVICE_GRANT, "device_code": body["device_code"],
                                     "client_id": client_id}, 15.0, name)
        answer = _json(response)
        error = str(answer.get("error") or "")
        if response.status_code == 200 and isinstance(answer.get("access_token"), str):
            break
        if error == "authorization_pending" or response.status_code >= 500 or response.status_code == 429:
            continue  # not yet, or a fault of the moment: asked again while the code lasts
        if error == "slow_down":
            interval += 5  # as RFC 8628 §3.5 asks
            continue
        said = printable(error or f"HTTP {response.status_code}")[:100]
        if error in ("access_denied", "authorization_declined"):
            raise AssistError(f"token {name!r}: the sign-in was declined ({said}): nothing stored")
        if error in ("expired_token", "code_expired"):
            raise AssistError(f"token {name!r}: the code expired before the sign-in ({said}): run it again; "
                              "nothing stored")
        raise AssistError(f"token {name!r}: the token endpoint refused the sign-in ({said}): nothing stored")
    if not isinstance(answer.get("refresh_token"), str):
        raise AssistError(f"token {name!r}: the provider gave no refresh token (ask for the scope offline_access): "
                          "nothing stored")
    return {"kind": "oauth2", "token_url": token_url, "client_id": client_id, "scopes": scopes,
            **_tokens(answer, {})}


def _seconds(value: Any, default: int, least: int, most: int) -> int:
    """A number of seconds a provider gave, kept within bounds (the default when it gave none or nonsense)."""
    try:
        return min(max(int(value), least), most) if value is not None else default
    except (TypeError, ValueError):
        return default


def _post(url: str, form: dict[str, str], timeout_s: float, name: str) -> Any:
    from urllib.parse import urlsplit

    import requests

    from ..net import request
    from ..printable import without_password

    shown = without_password(url)

    def same_origin(target: str) -> None:  # a token endpoint has no business sending the secrets elsewhere
        if (urlsplit(target).scheme, urlsplit(target).netloc) != (urlsplit(url).scheme, urlsplit(url).netloc):
            raise AssistError(f"token {name!r}: the token endpoint {shown} redirected to {without_password(target)}; "
                              "not followed")

    for attempt in range(3):
        try:
            return request("POST", url, check=same_origin, data=form, timeout=timeout_s,
                           headers={"Accept": "application/json"})
        except requests.ConnectionError:
            if attempt == 2:
                raise Unavailable(f"token {name!r}: cannot reach the token endpoint {shown}") from None
        except requests.Timeout:
            if attempt == 2:
                raise TemporaryError(f"token {name!r}: the token endpoint {shown} timed out") from None
        time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _json(response: Any) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def secret(store: TokenStore, name: str) -> str:
    """The value to present for a named token: an OAuth2 access token (refreshed first if it is about
    to expire), a bearer token, an API key or a password."""
    entry = store.get(name)
    kind = entry["kind"]
    if kind == "oauth2":
        if _expiring(entry, SKEW_S):
            entry = refresh(store, name)
        token = AccessToken(entry["access_token"])
        token.renewed = lambda: AccessToken(refresh(store, name, force=True)["access_token"])
        return token
    return entry[{"bearer": "token", "api_key": "key"}.get(kind, "password")]


def call_with_token(store: TokenStore, name: str, call: Callable[[str], Any]) -> Any:
    """Run call(token). If it answers 401 (a response with status_code 401), refresh once and retry."""
    result = call(secret(store, name))
    if getattr(result, "status_code", None) == 401 and store.get(name).get("kind") == "oauth2":
        refresh(store, name, force=True)
        result = call(secret(store, name))
    return result
