"""The access tokens Bastion issues at ``POST /v2/login/access-token``: HS256 JWTs (PyJWT).

Claims: ``sub`` (the user id), ``iat``, ``exp``, ``iss`` and ``aud`` (both Bastion's own, so
these tokens are never mistaken for an identity provider's) and ``pwd``, a short hash of the
user's password hash: changing the password ends every token issued before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from bastion.domain.errors import AuthenticationError
from bastion.domain.secret import Secret

__all__ = ["ISSUER", "AccessTokenIssuer", "TokenClaims", "password_stamp"]

ISSUER = "bastion"
_AUDIENCE = "bastion-account"
_ALGORITHM = "HS256"


def password_stamp(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    password_stamp: str
    expires_at: int


class AccessTokenIssuer:
    """Issues and verifies tokens; ``secret`` may be a callable, asked once on first use."""

    def __init__(self, secret: Secret | Callable[[], Secret], *, lifetime_seconds: int) -> None:
        self._source = secret
        self.lifetime_seconds = lifetime_seconds

    @property
    def _secret(self) -> Secret:
        if not isinstance(self._source, Secret):
            self._source = self._source()
        return self._source

    def issue(self, user_id: str, password_hash: str | None, *, now: float | None = None) -> tuple[str, int]:
        """A token for ``user_id`` and its expiry (Unix seconds)."""
        issued = int(now if now is not None else time.time())
        expires = issued + self.lifetime_seconds
        claims = {
            "sub": user_id,
            "iat": issued,
            "exp": expires,
            "iss": ISSUER,
            "aud": _AUDIENCE,
            "pwd": password_stamp(password_hash),
        }
        import jwt  # PyJWT (and cryptography under it) loads only where accounts log in

        return jwt.encode(claims, self._secret.reveal(), algorithm=_ALGORITHM), expires

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token; :class:`AuthenticationError` saying why otherwise."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._secret.reveal(),
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("The access token has expired; log in again.", "token_expired") from None
        except jwt.InvalidTokenError:
            raise _invalid(
                "The access token is not valid (malformed, or not signed by this Bastion); log in again.",
                "invalid_token",
            ) from None
        sub, stamp = claims.get("sub"), claims.get("pwd")
        if not isinstance(sub, str) or not isinstance(stamp, str):
            raise _invalid("The access token lacks its user claims; log in again.", "invalid_token")
        return TokenClaims(sub, stamp, int(claims["exp"]))


def _invalid(message: str, code: str) -> AuthenticationError:
    return AuthenticationError(message, code=code)
