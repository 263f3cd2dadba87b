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
# Where a provider signs in, and the scopes for reading and sending mail: Microsoft with a device code;
# Google in a browser (its device flow allows no mail scope), asked for a refresh token
PROVIDERS: dict[str, dict[str, Any]] = {
    "microsoft": {
        "device_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
        "token_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        "scopes": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send "
                  "offline_access"},
    "google": {
        "auth_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "scopes": "https://mail.google.com/",
        "asked": {"access_type": "offline", "prompt": "consent"}},
}
SIGN_IN_WAIT_S = 600  # how long a browser sign-in is waited for
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
    return _signed_in(name, token_url, client_id, None, scopes, answer)


def browser_sign_in(name: str, auth_url: str, token_url: str, client_id: str, client_secret: str | None,
                    scopes: list[str], show: Callable[[str], None], port: int = 0,
                    asked: dict[str, str] | None = None) -> dict[str, Any]:
    """Sign in in a browser (RFC 6749 §4.1, for an installed app: RFC 8252 and PKCE, RFC 7636): a listener
    on 127.0.0.1 (`port`, else a free one) is where the provider sends the browser back, `show(address)`
    tells the person what to open, and the code it brings (with this sign-in's state: another's is turned
    away) is exchanged for the tokens with the verifier only this process knows. Returns the oauth2 entry
    to keep; an AssistError when declined, not done in time or refused."""
    import base64
    import hashlib
    import hmac
    import secrets
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlencode, urlsplit

    from ..printable import printable

    verifier, state = secrets.token_urlsafe(64), secrets.token_urlsafe(24)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    answer: dict[str, str] = {}
    arrived = threading.Event()

    class Back(BaseHTTPRequestHandler):
        timeout = 10  # a connection that says nothing does not hold the listener (one request at a time)

        def log_message(self, *args: Any) -> None:  # nothing of a sign-in in the logs
            pass

        def do_GET(self) -> None:
            query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
            ours = hmac.compare_digest(query.get("state", ""), state) and not arrived.is_set()
            page = (("Signed in: assist has it. You may close this page." if "code" in query else
                     "The sign-in did not happen: see the terminal.") if ours else "Not this sign-in.").encode()
            self.send_response(200 if ours else 400)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            if ours:
                answer.update(query)
                arrived.set()

    try:
        listener = HTTPServer(("127.0.0.1", port), Back)
    except OSError as exc:
        raise AssistError(f"token {name!r}: cannot listen on 127.0.0.1:{port} for the sign-in ({exc.strerror})") \
            from None
    back = f"http://127.0.0.1:{listener.server_address[1]}"
    address = auth_url + ("&" if "?" in auth_url else "?") + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": back, "scope": " ".join(scopes),
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256", **(asked or {})})
    threading.Thread(target=listener.serve_forever, name="sign-in", daemon=True).start()
    try:
        show(address)
        if not arrived.wait(SIGN_IN_WAIT_S):
            raise AssistError(f"token {name!r}: no sign-in within {SIGN_IN_WAIT_S // 60} minutes: run it again; "
                              "nothing stored")
    finally:
        listener.shutdown()
        listener.server_close()
    if "code" not in answer:
        said = printable(answer.get("error", "no code"))[:100]
        raise AssistError(f"token {name!r}: the sign-in was declined ({said}): nothing stored")
    form = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": back,
            "client_id": client_id, "code_verifier": verifier, **({"client_secret": client_secret} if client_secret
                                                                 else {})}
    response = _post(token_url, form, 15.0, name)
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        said = printable(str(body.get("error") or f"HTTP {response.status_code}"))[:100]
        raise AssistError(f"token {name!r}: the token endpoint refused the sign-in ({said}): nothing stored")
    return _signed_in(name, token_url, client_id, client_secret, scopes, body)


def _signed_in(name: str, token_url: str, client_id: str, client_secret: str | None, scopes: list[str],
               body: dict[str, Any]) -> dict[str, Any]:
    """The oauth2 entry a sign-in's tokens make; refused without a refresh token (it would last an hour)."""
    if not isinstance(body.get("refresh_token"), str):
        raise AssistError(f"token {name!r}: the provider gave no refresh token (ask for offline access: "
                          "offline_access for Microsoft): nothing stored")
    entry = {"kind": "oauth2", "token_url": token_url, "client_id": client_id, "scopes": scopes,
             **_tokens(body, {})}
    return {**entry, "client_secret": client_secret} if client_secret else entry


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
