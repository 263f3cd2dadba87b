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
    import jwt

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "sub": subject, "iat": now, "exp": now + int(ttl_s),
              "jti": os.urandom(8).hex()}
    return jwt.encode(claims, store.jwt_key(), algorithm="HS256")


def verify(store: TokenStore, token: str, audience: str, leeway_s: float = 5) -> dict[str, Any]:
    """The claims of a valid token for this audience; BadToken (saying why, never echoing it) otherwise."""
    import jwt

    try:
        return jwt.decode(token, store.jwt_key(), algorithms=["HS256"], audience=audience, issuer=ISSUER,
                          leeway=leeway_s, options={"require": ["exp", "iat", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        raise BadToken("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise BadToken("the token is for another audience") from None
    except jwt.InvalidTokenError as exc:
        raise BadToken(f"invalid token ({type(exc).__name__})") from None
