"""The public keys end-user tokens are checked against: from the config, or from a JWKS URL.

A :class:`RemoteKeys` set is fetched on first use (or at start-up), kept for ``cache_seconds``, and
fetched again early when a token names a ``kid`` it does not hold (the identity provider rotated
its keys). Fetches are asynchronous, one at a time (every request waiting for keys shares the one
fetch), and never closer together than ``min_refresh_seconds``, so tokens with made-up ``kid``
values cannot make the gateway hammer the identity provider. A failed fetch keeps the keys it had.

The fetch is a GET on the process's HTTP client (:mod:`bastion.outbound.http`): HTTPS verified
with SNI, ``timeout`` seconds in all, at most three redirects (an identity provider may move its
document; never from https to http, and the operator chose the first host, which decides where
the keys come from anyway), and a document over 1 MiB is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bastion import __version__
from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    UpstreamConnectionError,
    UpstreamTimeoutError,
)
from bastion.settings.jwk_rules import jwk_problem
from bastion.tasks import spawn_awaited

if TYPE_CHECKING:
    from bastion.outbound.http import HttpPool

__all__ = ["KeySource", "KeysUnavailableError", "RemoteKeys", "StaticKeys"]

_log = logging.getLogger("bastion.auth")

#: A JWKS document larger than this is refused (a few hundred keys fit in far less).
_MAX_DOCUMENT = 1024 * 1024
_MAX_REDIRECTS = 3
_HEADERS = {"accept": "application/json", "user-agent": f"bastion/{__version__}"}

Jwk = Mapping[str, Any]


class KeysUnavailableError(BastionError):
    """The identity provider's keys could not be fetched, so no token can be checked yet."""

    status = 503
    kind = "overloaded"
    retryable = True


class KeySource(Protocol):
    async def find(self, kid: str | None) -> Jwk:
        """The key a token's ``kid`` names; raises AuthenticationError when there is none."""
        ...

    async def refresh(self) -> None:
        """Fetch the keys again where they come from the network (a no-op otherwise)."""
        ...

    async def close(self) -> None: ...


def pick(keys: Sequence[Jwk], kid: str | None) -> Jwk | None:
    """The key with ``kid``; without a match, the only key when there is exactly one without a kid."""
    if kid is not None:
        for key in keys:
            if key.get("kid") == kid:
                return key
    unnamed = [key for key in keys if key.get("kid") is None]
    if len(unnamed) == 1 and (kid is None or len(keys) == 1):
        return unnamed[0]
    if kid is None and len(keys) == 1:
        return keys[0]
    return None


def _unknown(kid: str | None, count: int) -> AuthenticationError:
    if kid is None:
        return AuthenticationError(
            f"The token has no 'kid' header and the gateway holds {count} keys; the identity provider "
            "must name the key it signed with.",
            code="invalid_token",
        )
    return AuthenticationError(
        f"The token was signed with a key the gateway does not know (kid '{kid[:64]}').",
        code="invalid_token",
    )


class StaticKeys:
    """Keys written in the config."""

    def __init__(self, keys: Sequence[Jwk]) -> None:
        self._keys = list(keys)

    async def find(self, kid: str | None) -> Jwk:
        key = pick(self._keys, kid)
        if key is None:
            raise _unknown(kid, len(self._keys))
        return key

    async def refresh(self) -> None:
        return None

    async def close(self) -> None:
        return None


Fetch = Callable[[], Awaitable[bytes]]


class RemoteKeys:
    """Keys fetched from a JWKS URL and cached (see the module docstring for the rules)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        timeout: float,
        http: HttpPool | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch: Fetch | None = None,
    ) -> None:
        """``http`` is the process's HTTP client (required unless ``fetch`` replaces the fetch)."""
        if http is None and fetch is None:
            raise ValueError("RemoteKeys needs the HTTP client (or a fetch function)")
        self._url = url
        self._http = http
        self._cache_seconds = cache_seconds
        self._floor = min_refresh_seconds
        self._timeout = timeout
        self._clock = clock
        self._fetch = fetch or self._http_get
        self._keys: list[Jwk] = []
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._running: asyncio.Future[None] | None = None
        #: How many fetches were started (tests and metrics read it).
        self.fetches = 0

    async def find(self, kid: str | None) -> Jwk:
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._cache_seconds:
            await self.refresh()
        key = pick(self._keys, kid)
        if key is None:
            await self.refresh()  # the provider may have rotated its keys; at most once per floor
            key = pick(self._keys, kid)
        if key is None:
            if not self._keys:
                raise KeysUnavailableError(
                    "The identity provider's signing keys could not be fetched, so the token cannot "
                    "be checked. Try again shortly; if it persists, the operator should check jwks_url."
                )
            raise _unknown(kid, len(self._keys))
        return key

    async def refresh(self) -> None:
        """Fetch the keys again, unless a fetch started less than ``min_refresh_seconds`` ago.

        Callers arriving while a fetch runs wait for that one; a caller that gives up (its client
        went away) does not cancel it for the others.
        """
        running = self._running
        if running is None:
            now = self._clock()
            if self._tried_at is not None and now - self._tried_at < self._floor:
                return
            self._tried_at = now
            self.fetches += 1
            running = self._running = spawn_awaited(self._load(), name="jwks-load")
            running.add_done_callback(self._finished)
        await asyncio.shield(running)

    def _finished(self, running: asyncio.Future[None]) -> None:
        if self._running is running:
            self._running = None

    async def _load(self) -> None:
        try:
            body = await self._fetch()
            keys = _usable_keys(orjson.loads(body), self._url)
        except (UpstreamConnectionError, UpstreamTimeoutError, orjson.JSONDecodeError, ValueError) as exc:
            reason = exc.message if isinstance(exc, BastionError) else str(exc)
            _log.warning(
                "fetching the JWKS from %s failed (%s: %s); keeping %d known keys",
                self._url,
                type(exc).__name__,
                reason[:200],
                len(self._keys),
            )
            return
        self._keys = keys
        self._fetched_at = self._clock()

    async def _http_get(self) -> bytes:
        assert self._http is not None
        status, _, body = await self._http.get(
            self._url, _HEADERS, timeout=self._timeout, max_bytes=_MAX_DOCUMENT, redirects=_MAX_REDIRECTS
        )
        if status != 200:
            raise ValueError(f"the identity provider answered {status}")
        return body

    async def close(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None


def _usable_keys(document: Any, url: str) -> list[Jwk]:
    """The public signing keys of a JWKS document; unusable ones are skipped and logged."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    usable: list[Jwk] = []
    for index, key in enumerate(document["keys"]):
        problem = jwk_problem(key) if isinstance(key, dict) else "is not a mapping"
        if problem is None:
            usable.append(key)
        else:
            _log.warning("skipping key %d of the JWKS from %s: it %s", index, url, problem)
    if not usable:
        raise ValueError("no usable key")
    return usable
