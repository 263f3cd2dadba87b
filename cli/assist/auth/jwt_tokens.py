"""Short-lived JWTs (HS256) for internal handoffs, signed with a key kept in the token store."""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import AssistError
from .store import TokenStore

ISSUER = "assist"


class BadToken(AssistError):
    pass


def mint(store: TokenStore, audience: str, subject: str = "assist", ttl_s: float = 300) -> str:
    return mint_with_key(store.jwt_key(), audience, subject, ttl_s)


def verify(store: TokenStore, token: str, audience: str, leeway_s: float = 5) -> dict[str, Any]:
    """The claims of a valid token for this audience; BadToken (saying why, never echoing it) otherwise."""
    return verify_with_key(store.jwt_key(), token, audience, leeway_s)


def mint_with_key(key: bytes, audience: str, subject: str = "assist", ttl_s: float = 300) -> str:
    """The same, for a server that read the key from the store once at start."""
    import jwt

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "sub": subject, "iat": now, "exp": now + int(ttl_s),
              "jti": os.urandom(8).hex()}
    return jwt.encode(claims, key, algorithm="HS256")


def verify_with_key(key: bytes, token: str, audience: str, leeway_s: float = 5) -> dict[str, Any]:
    import jwt

    try:
        return jwt.decode(token, key, algorithms=["HS256"], audience=audience, issuer=ISSUER,
                          leeway=leeway_s, options={"require": ["exp", "iat", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        raise BadToken("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise BadToken("the token is for another audience") from None
    except jwt.InvalidTokenError as exc:
        raise BadToken(f"invalid token ({type(exc).__name__})") from None
