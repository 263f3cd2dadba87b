"""Who may use `assist serve`.

- Programs send `Authorization: Bearer <JWT>` (audience "serve", from `assist token jwt --audience
  serve`), signed with the key in the token store, as for `assist ingest http`.
- A browser opens the login link `assist serve` prints (a JWT of audience "serve-login", valid for ten
  minutes, usable once). It is exchanged for a session cookie (a JWT of audience "serve-session"):
  Secure, HttpOnly, SameSite=Strict. Requests that change something with that cookie must also carry
  the session's CSRF token in `X-CSRF-Token` (the page has it); a WebSocket opened with the cookie must
  come from the server's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from typing import Any

from ..auth.jwt_tokens import BadToken, mint_with_key, verify_with_key

COOKIE = "assist_session"
SESSION_S = 12 * 3600
LOGIN_S = 600


@dataclass
class Caller:
    how: str  # "bearer" or "session"
    subject: str
    session: str | None = None  # the session id, for the CSRF check


@dataclass
class Auth:
    key: bytes
    used_logins: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def login_token(self, ttl_s: float = LOGIN_S) -> str:
        return mint_with_key(self.key, "serve-login", "browser", ttl_s)

    def start_session(self, login_token: str) -> str:
        """The session cookie's value for a good login token; BadToken otherwise, also when reused."""
        claims = verify_with_key(self.key, login_token, "serve-login")
        with self.lock:
            if claims["jti"] in self.used_logins:
                raise BadToken("this login link was used already; run `assist serve --login-url`")
            self.used_logins.add(claims["jti"])
        return mint_with_key(self.key, "serve-session", claims.get("sub", "browser"), SESSION_S)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.key, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def caller(self, headers: Any, cookies: dict[str, str]) -> Caller | None:
        """Who is asking: a bearer token first, then the session cookie; None for nobody."""
        header = headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            try:
                claims = verify_with_key(self.key, header[7:].strip(), "serve")
            except BadToken:
                return None
            return Caller("bearer", claims.get("sub", "?"))
        cookie = cookies.get(COOKIE)
        if cookie:
            try:
                claims = verify_with_key(self.key, cookie, "serve-session")
            except BadToken:
                return None
            return Caller("session", claims.get("sub", "?"), claims["jti"])
        return None

    def csrf_ok(self, caller: Caller, headers: Any) -> bool:
        if caller.how == "bearer":
            return True  # a bearer token is never sent by a browser on its own
        sent = headers.get("x-csrf-token", "")
        return bool(sent) and caller.session is not None and hmac.compare_digest(sent, self.csrf_token(caller.session))


def login_path(token: str) -> str:
    return f"/login?token={token}"
