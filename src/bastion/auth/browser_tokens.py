"""Short-lived browser tokens: minted by a backend with its Bastion key, used by one web page.

Format: ``bt_<payload>.<signature>``, both base64url without padding. The payload is JSON::

    {"v": 1, "jti": "<random id>", "iat": <unix>, "exp": <unix>,
     "mk": "<SHA-256 of the minting key>", "mkind": "master" | "static_key" | "virtual_key",
     "models": [...], "budget": <USD> | null, "user": "<end user>" | null}

The signature is HMAC-SHA256 over ``bt_<payload>`` with the gateway's token secret
(``bastion_settings.browser.token_secret``, else derived from the master key, so every process of
one deployment agrees). Two parts, never three: a browser token can never be taken for a JWT.

A token is accepted while its signature verifies, ``exp`` is in the future and **its minting key
still works**: the key is looked up (from the in-process key cache) on every use, so deleting,
blocking or expiring the key revokes every token it minted at once. Rotating ``token_secret``
revokes all tokens. A token never does more than its minter: its models are a subset of the
minter's, its budget no larger, its life ends before the minter's, and the minter's own rate
limits and budgets apply to every call made with it (on top of the token's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from bastion.domain.errors import AuthenticationError, PermissionDeniedError
from bastion.domain.principal import Principal, ScopeLimits
from bastion.settings import BrowserSettings, EndUserLimits, Secret

__all__ = ["PREFIX", "BrowserTokenClaims", "BrowserTokens", "looks_like_browser_token"]

PREFIX = "bt_"
_VERSION = 1
_MINTERS = ("master", "static_key", "virtual_key")
_MAX_USER = 255
_DERIVATION = b"bastion browser tokens v1"


def looks_like_browser_token(credential: str) -> bool:
    return credential.startswith(PREFIX) and credential.count(".") == 1


@dataclass(frozen=True, slots=True)
class BrowserTokenClaims:
    """What a verified token says."""

    jti: str
    issued_at: int
    expires_at: int
    minter_hash: str
    minter_kind: str
    models: tuple[str, ...]
    budget: float | None
    user: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused(reason: str) -> AuthenticationError:
    return AuthenticationError(f"The browser token was refused: {reason}", code="invalid_token")


class BrowserTokens:
    """Mints and verifies browser tokens with one HMAC secret."""

    def __init__(
        self,
        secret: bytes,
        *,
        user_limits: EndUserLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._user_limits = user_limits or EndUserLimits()
        self._clock = clock

    @classmethod
    def from_settings(cls, browser: BrowserSettings, master_key: Secret | None) -> BrowserTokens:
        """The configured secret, else one derived from the master key, else a random one (tokens
        then work only in this process, and a warning says so at start-up)."""
        if browser.token_secret is not None:
            secret = browser.token_secret.reveal().encode()
        elif master_key is not None:
            secret = hmac.new(master_key.reveal().encode(), _DERIVATION, hashlib.sha256).digest()
        else:
            secret = secrets.token_bytes(32)
        return cls(secret, user_limits=browser.user_limits)

    # ------------------------------------------------------------------ minting

    def mint(
        self,
        minter: Principal,
        *,
        models: Sequence[str],
        budget: float | None,
        ttl_seconds: float,
        user: str | None,
    ) -> tuple[str, BrowserTokenClaims]:
        """A token for ``minter``'s page, never allowed more than ``minter`` itself.

        ``models`` are model group names (already checked to exist); empty means the minter's.
        Raises PermissionDeniedError when the minter may not mint or asks for more than it has."""
        if minter.kind not in _MINTERS:
            raise PermissionDeniedError(
                "Only the master key or a Bastion key (virtual or static) may mint browser tokens."
            )
        if minter.models:
            outside = sorted(set(models) - minter.models)
            if outside:
                raise PermissionDeniedError(
                    f"The minting key may not use {', '.join(outside)}, so its tokens may not either."
                )
        chosen = tuple(dict.fromkeys(models)) or tuple(sorted(minter.models))
        ceiling = min((s.max_budget for s in minter.limits if s.max_budget is not None), default=None)
        if budget is not None and ceiling is not None and budget > ceiling:
            raise PermissionDeniedError(
                f"A token's max_budget may not exceed its minting key's ({ceiling:g} USD)."
            )
        now = self._clock()
        expires = now + ttl_seconds
        if minter.expires is not None:
            if minter.expires <= now:
                raise PermissionDeniedError("The minting key has expired.")
            expires = min(expires, minter.expires)
        claims = BrowserTokenClaims(
            jti=secrets.token_hex(12),
            issued_at=int(now),
            expires_at=int(expires),
            minter_hash=minter.key_hash,
            minter_kind=minter.kind,
            models=chosen,
            budget=budget,
            user=user,
        )
        payload = {
            "v": _VERSION,
            "jti": claims.jti,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "mk": claims.minter_hash,
            "mkind": claims.minter_kind,
            "models": list(claims.models),
            "budget": claims.budget,
            "user": claims.user,
        }
        body = PREFIX + _b64(orjson.dumps(payload))
        return body + "." + _b64(self._sign(body)), claims

    def _sign(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()

    # ------------------------------------------------------------------ verifying

    def verify(self, token: str) -> BrowserTokenClaims:
        """The claims of a token whose signature and expiry check out; AuthenticationError otherwise.
        (The minting key is checked by the caller, which can look keys up.)"""
        body, dot, signature = token.partition(".")
        if not dot or not body.startswith(PREFIX):
            raise _refused("it is not a browser token (bt_<payload>.<signature>).")
        try:
            given = _unb64(signature)
            raw = _unb64(body[len(PREFIX) :])
        except ValueError:
            raise _refused("it is not well-formed base64url.") from None
        if not hmac.compare_digest(given, self._sign(body)):
            raise _refused("its signature does not verify (minted by another gateway, or altered).")
        try:
            data = orjson.loads(raw)
            claims = BrowserTokenClaims(
                jti=str(data["jti"]),
                issued_at=int(data["iat"]),
                expires_at=int(data["exp"]),
                minter_hash=str(data["mk"]),
                minter_kind=str(data["mkind"]),
                models=tuple(str(m) for m in data["models"]),
                budget=None if data["budget"] is None else float(data["budget"]),
                user=None if data["user"] is None else str(data["user"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise _refused("its payload is malformed.") from None
        if data.get("v") != _VERSION:
            raise _refused("it is of an unknown version.")
        if claims.expires_at <= self._clock():
            raise AuthenticationError(
                "The browser token has expired; ask your backend for a new one (POST /api/token).",
                code="token_expired",
            )
        return claims

    def principal(self, claims: BrowserTokenClaims, minter: Principal) -> Principal:
        """The caller a verified token stands for: the minter's limits plus the token's own."""
        own_scope = f"browser_token:{claims.jti}"
        limits = list(minter.limits)
        if claims.budget is not None:
            limits.append(ScopeLimits(own_scope, max_budget=claims.budget))
        user = self._user_limits
        if any(v is not None for v in (user.rpm_limit, user.tpm_limit, user.max_parallel_requests)):
            limits.append(
                ScopeLimits(
                    f"end_user:{claims.user}" if claims.user else own_scope + ":rate",
                    rpm=user.rpm_limit,
                    tpm=user.tpm_limit,
                    parallel=user.max_parallel_requests,
                )
            )
        return Principal(
            kind="browser_token",
            label=f"browser-{claims.jti[:8]}",
            key_hash=minter.key_hash if minter.kind == "virtual_key" else "",
            models=frozenset(claims.models),
            team_id=minter.team_id,
            user_id=claims.user or minter.user_id,
            expires=float(claims.expires_at),
            limits=tuple(limits),
            end_user=claims.user,
        )


def check_user(user: object) -> str | None:
    """A token's end-user id: a short string, or none."""
    if user is None:
        return None
    if not isinstance(user, str) or not user.strip() or len(user) > _MAX_USER:
        raise ValueError(f"'user' must be a non-empty string of at most {_MAX_USER} characters")
    return user.strip()
