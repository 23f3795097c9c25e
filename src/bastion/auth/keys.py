"""Resolving a presented key to a principal: the master key and the static keys from config.

Keys are compared by their SHA-256 hash (as LiteLLM stores them), so lookups are a dict access and
the plaintext of a configured key is kept only in the settings object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bastion.auth.browser_tokens import looks_like_browser_token
from bastion.auth.jwt_tokens import looks_like_token
from bastion.domain.errors import AuthenticationError, PermissionDeniedError
from bastion.domain.principal import ANONYMOUS, Principal
from bastion.settings import Settings
from bastion.settings.model import StaticKey

if TYPE_CHECKING:
    from bastion.auth.browser_tokens import BrowserTokens
    from bastion.auth.jwt_tokens import TokenVerifier
    from bastion.auth.virtual_keys import VirtualKeys

__all__ = ["KeyRing", "extract_key", "hash_key", "static_key_label"]

_NOT_A_TOKEN = (
    "This looks like a JWT, but this gateway accepts no end-user tokens (bastion_settings.jwt_auth "
    "is not configured). Send a Bastion key."
)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def static_key_label(static: StaticKey, digest: str | None = None) -> str:
    """How a static key is named in logs, spend rows and the dashboard: its alias, else ``key-``
    and the first hex digits of its hash (never its value)."""
    return static.alias or f"key-{(digest or hash_key(static.key.reveal()))[:8]}"


def extract_key(headers: Mapping[str, str], query_key: str | None) -> str | None:
    """The key from ``Authorization: Bearer``, ``x-api-key``, ``api-key``, ``x-goog-api-key`` or ``?key=``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for name in ("x-api-key", "api-key", "x-goog-api-key"):
        found = headers.get(name)
        if found:
            return found.strip()
    return query_key or None


class KeyRing:
    """Master and static keys from the config, then virtual keys from the database; end-user
    tokens (JWTs, see :mod:`bastion.auth.jwt_tokens`) go to ``tokens`` when it is configured."""

    def __init__(
        self,
        settings: Settings,
        *,
        virtual: VirtualKeys | None = None,
        tokens: TokenVerifier | None = None,
        browser: BrowserTokens | None = None,
    ) -> None:
        self._virtual = virtual
        self._tokens = tokens
        self._browser = browser
        self._by_hash: dict[str, Principal] = {}
        for static in settings.bastion.static_keys:
            digest = hash_key(static.key.reveal())
            label = static_key_label(static, digest)
            self._by_hash[digest] = Principal("static_key", label, digest, frozenset(static.models))
        if settings.master_key is not None:
            digest = hash_key(settings.master_key.reveal())
            self._by_hash[digest] = Principal("master", "master", digest)
        # A gateway that takes end-user tokens is never open: a missing token must not pass.
        self.open = settings.master_key is None and not settings.bastion.static_keys and tokens is None

    async def authenticate(self, key: str | None, *, browser: bool = False) -> Principal:
        """The principal of ``key``. A browser token (``bt_...``) is refused unless ``browser``: it
        carries its caps only on the browser token-stream endpoints, so it works nowhere else."""
        if key is None:
            if self.open:
                return ANONYMOUS
            raise AuthenticationError(
                "No API key was sent. Send your Bastion key as 'Authorization: Bearer <key>' "
                "(or x-api-key / x-goog-api-key)."
            )
        if self._tokens is not None and looks_like_token(key):
            return await self._tokens.principal(key)
        if self._browser is not None and looks_like_browser_token(key):
            if not browser:
                raise PermissionDeniedError(
                    "A browser token (bt_...) may only call the browser token-stream endpoints "
                    "(bastion_settings.browser), where its model allowlist and max_tokens cap apply; "
                    "call this endpoint with a Bastion API key instead.",
                    code="browser_token_not_allowed",
                )
            return await self._browser_principal(key)
        principal = await self.by_hash(hash_key(key))
        if principal is None:
            if self.open:
                return ANONYMOUS
            raise AuthenticationError(
                _NOT_A_TOKEN
                if looks_like_token(key)
                else "The API key is not valid for this gateway. Check that you are using a Bastion key, "
                "not a provider key.",
                code="invalid_api_key",
            )
        return principal

    async def by_hash(self, digest: str) -> Principal | None:
        """The principal of a key by its SHA-256 hash; ``None`` when no such key exists."""
        principal = self._by_hash.get(digest)
        if principal is None and self._virtual is not None:
            principal = await self._virtual.principal(digest)
        return principal

    async def _browser_principal(self, token: str) -> Principal:
        assert self._browser is not None
        claims = self._browser.verify(token)
        try:
            minter = await self.by_hash(claims.minter_hash)
        except AuthenticationError as err:
            raise AuthenticationError(
                f"The browser token was refused: the key that minted it no longer works ({err.message})",
                code="invalid_token",
            ) from None
        if minter is None:
            raise AuthenticationError(
                "The browser token was refused: the key that minted it no longer exists.",
                code="invalid_token",
            )
        return self._browser.principal(claims, minter)
