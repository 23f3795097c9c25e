"""The dashboard's session cookie and CSRF tokens.

A session is a signed cookie (HMAC-SHA256 with a key derived from the gateway's signing secret),
so every ``--workers`` process and every host sharing ``BASTION_JWT_SECRET`` accepts it and no
server-side state is kept. It holds who logged in (``master`` or a user id), a stamp that ends it
when the credential changes (the master key in the config, the account's password), a random
nonce and an expiry. Nothing secret is in it: the master key appears only as an HMAC.

CSRF: every form carries ``HMAC(key, "csrf:" + nonce)`` of the session; the login form, before
there is a session, carries a random value that must equal its ``bastion_login`` cookie (double
submit). The cookies are HttpOnly and SameSite=Strict, and Secure when the page is served over
https.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "Session", "SessionSigner", "cookie_header", "read_cookie"]

SESSION_COOKIE = "bastion_session"
LOGIN_COOKIE = "bastion_login"


@dataclass(frozen=True, slots=True)
class Session:
    #: ``master`` or ``user``.
    kind: str
    #: The user id (``""`` for the master key).
    user_id: str
    stamp: str
    nonce: str
    expires_at: int


class SessionSigner:
    def __init__(self, secret: bytes, *, lifetime_seconds: int = 8 * 3600) -> None:
        self._key = hmac.new(secret, b"bastion-dashboard-session-v1", hashlib.sha256).digest()
        self.lifetime_seconds = lifetime_seconds

    def stamp(self, credential: str) -> str:
        """A short HMAC of a credential: changes when it does, reveals nothing about it."""
        return hmac.new(self._key, b"stamp:" + credential.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, kind: str, user_id: str, stamp: str, *, now: float | None = None) -> tuple[str, Session]:
        now = time.time() if now is None else now
        session = Session(kind, user_id, stamp, secrets.token_urlsafe(16), int(now) + self.lifetime_seconds)
        payload = orjson.dumps(
            {"k": kind, "u": user_id, "s": stamp, "n": session.nonce, "e": session.expires_at}
        )
        body = _b64(payload)
        return f"{body}.{self._sign(body)}", session

    def read(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie holds; ``None`` when it is missing, forged or expired."""
        if not value or "." not in value:
            return None
        body, _, signature = value.partition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["k"]), str(data["u"]), str(data["s"]), str(data["n"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at <= (time.time() if now is None else now):
            return None
        return session

    def csrf(self, session: Session) -> str:
        return hmac.new(self._key, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session), token or "")

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cookie(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header."""
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def cookie_header(name: str, value: str, *, secure: bool, max_age: int) -> tuple[bytes, bytes]:
    """A ``Set-Cookie`` header for the dashboard (``max_age=0`` deletes the cookie)."""
    parts = [f"{name}={value}", "Path=/ui", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode()
