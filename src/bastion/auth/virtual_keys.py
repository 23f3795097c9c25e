"""Virtual keys: minting them, and turning a presented key into a principal on the hot path.

A key is ``sk-`` plus 22 random URL-safe characters (LiteLLM's shape); only its SHA-256 hash is
stored. Lookups go through a small in-process cache (``ttl`` seconds, default 5) so a request costs
no database round trip; a key used in the last fifth of its entry's life is read again in the
background, so a key in steady use does not make a request wait for the database. A revocation
(delete, block, update, regenerate) drops the cached entry at once in this process and, through
the limits layer's revocation channel, in every other process.

When the database is down, a key seen before the outage keeps working from its last cached value
(``serve_known_keys``, LiteLLM's ``allow_requests_on_db_unavailable``, on by default), as long as
no revocation says otherwise: a revocation notice drops the entry, and the revocation markers
(``is_revoked``, in Redis when shared) are checked before a stale entry is used. The database is
asked again at most once per ``ttl`` per key meanwhile. A key never seen, or a gateway configured
to fail closed, gets the database's 503.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bastion.auth.keys import hash_key
from bastion.domain.errors import AuthenticationError, InvalidRequestError
from bastion.domain.principal import Principal, ScopeLimits
from bastion.store.errors import StoreUnavailableError
from bastion.store.keys import KeyRepository
from bastion.store.records import KeyRecord, TeamRecord, UserRecord
from bastion.store.teams import TeamRepository
from bastion.store.users import UserRepository
from bastion.tasks import spawn, spawn_awaited

__all__ = ["KeyMaterial", "VirtualKeys", "key_name", "mint_key"]


class KeyMaterial:
    __slots__ = ("key", "key_name", "token")

    def __init__(self, key: str) -> None:
        self.key = key
        self.token = hash_key(key)
        self.key_name = key_name(key)


def key_name(key: str) -> str:
    """LiteLLM's display form: ``sk-...abcd`` (never enough to use the key)."""
    return f"sk-...{key[-4:]}"


def mint_key(custom: str | None = None) -> KeyMaterial:
    """A new key, or the caller's own value (which must start with ``sk-``, as in LiteLLM)."""
    if custom is not None:
        if not custom.startswith("sk-") or len(custom) < 12:
            raise InvalidRequestError(
                "A custom 'key' must start with 'sk-' and be at least 12 characters.", param="key"
            )
        return KeyMaterial(custom)
    return KeyMaterial("sk-" + secrets.token_urlsafe(16))


_MAX_CACHED = 100_000
#: The last share of an entry's life in which using the key reads it again ahead of expiry.
_AHEAD = 0.2
_log = logging.getLogger("bastion.auth")


class VirtualKeys:
    def __init__(
        self,
        keys: KeyRepository,
        teams: TeamRepository,
        users: UserRepository | None = None,
        *,
        ttl: float = 5.0,
        serve_known_keys: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._teams = teams
        self._users = users
        self._ttl = ttl
        #: A key used this close to its entry's expiry is read again in the background.
        self._ahead = ttl * _AHEAD
        self._serve_known_keys = serve_known_keys
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        #: Loads under way: concurrent requests with one key share one database read.
        self._loading: dict[str, asyncio.Future[Principal | None]] = {}
        #: Whether a key hash is revoked (the limits layer's markers); checked before a key is
        #: served from a stale entry during a database outage. ``None``: no markers to check.
        self.is_revoked: Callable[[str], Awaitable[bool]] | None = None
        self._outage_logged = False

    def forget(self, token: str | None) -> None:
        """Drop one cached key (``None``: every entry is stale, e.g. after missed revocation
        notices: each is read again, and used in an outage only once its marker is checked)."""
        if token is None:
            self._cache = {cached: (0.0, principal) for cached, (_, principal) in self._cache.items()}
            self._loading.clear()
        else:
            self._cache.pop(token, None)
            self._loading.pop(token, None)  # a load that began before the change is not reused

    async def principal(self, token: str) -> Principal | None:
        """The principal of a key hash, ``None`` when no such key exists; raises when it may not be used."""
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            principal = cached[1]
            if principal is not None and cached[0] - now < self._ahead and token not in self._loading:
                spawn(self._refresh(token), name="key-refresh")
        else:
            try:
                principal = await self._shared_load(token, now)
            except StoreUnavailableError as outage:
                if cached is None or not self._serve_known_keys:
                    await self._refuse_if_revoked(token)  # a revoked key is told so, not "try later"
                    raise
                principal = await self._during_outage(token, cached[1], now, outage)
            else:
                self._outage_logged = False
        if principal is not None and principal.expires is not None and principal.expires <= time.time():
            raise AuthenticationError(
                "This key has expired. Ask for a new key (POST /key/generate, or /key/regenerate).",
                code="key_expired",
            )
        return principal

    async def _refresh(self, token: str) -> None:
        """Read a key in use again shortly before its entry expires, so that no request waits for
        the database. Only a read that succeeds replaces the entry: when the database does not
        answer, the entry expires at its time and the next request is served as in any outage
        (refused with ``serve_known_keys`` off, from the last value with it on)."""
        try:
            await self._shared_load(token, self._clock())
        except StoreUnavailableError:
            pass
        except AuthenticationError:  # blocked meanwhile: the next request reads it and is told so
            self._cache.pop(token, None)

    async def _during_outage(
        self, token: str, principal: Principal | None, now: float, outage: StoreUnavailableError
    ) -> Principal | None:
        """A key seen before the database went away: its last value, unless it has been revoked."""
        if principal is not None:
            await self._refuse_if_revoked(token)
        if token not in self._cache:  # forgotten meanwhile (a revocation notice): cannot tell
            raise outage
        self._cache[token] = (now + self._ttl, principal)  # ask the database again in a ttl
        if not self._outage_logged:
            self._outage_logged = True
            _log.warning(
                "the database is unavailable: keys seen before the outage keep working from the cache "
                "(allow_requests_on_db_unavailable); their spend waits in the journal"
            )
        return principal

    async def _refuse_if_revoked(self, token: str) -> None:
        if self.is_revoked is not None and await self.is_revoked(token):
            self._cache.pop(token, None)
            raise AuthenticationError("This key has been revoked.", code="key_revoked")

    async def _shared_load(self, token: str, now: float) -> Principal | None:
        loading = self._loading.get(token)
        if loading is not None:
            return await asyncio.shield(loading)  # a waiter's cancellation must not end the load
        loading = spawn_awaited(self._load(token), name="key-load")
        loading.add_done_callback(_retrieve)
        self._loading[token] = loading
        try:
            principal = await asyncio.shield(loading)
        finally:
            # Forgotten while loading (revoked, changed): answer this request, cache nothing.
            current = self._loading.get(token) is loading
            if current:
                del self._loading[token]
        if not current:
            return principal
        if len(self._cache) >= _MAX_CACHED:
            # Unknown keys are cached too (as None); a flood of random keys must not grow
            # memory without bound. Dropping everything costs one lookup per live key.
            self._cache.clear()
        self._cache[token] = (now + self._ttl, principal)
        return principal

    async def _load(self, token: str) -> Principal | None:
        record = await self._keys.resolve(token)
        if record is None:
            return None
        team = await self._teams.get(record.team_id) if record.team_id else None
        user = await self._users.get(record.user_id) if record.user_id and self._users is not None else None
        return principal_of(record, team, user)


def _retrieve(load: asyncio.Future[Principal | None]) -> None:
    # Seen by every waiter; read here too so a load whose waiters all left is not reported as
    # an exception nobody retrieved.
    if not load.cancelled():
        load.exception()


def principal_of(record: KeyRecord, team: TeamRecord | None, user: UserRecord | None = None) -> Principal:
    """What a key may do: its own limits plus its team's and its user's; the narrower model list wins."""
    if record.blocked:
        raise AuthenticationError("This key is blocked. An admin can unblock it with POST /key/update.")
    if team is not None and team.blocked:
        raise AuthenticationError(f"This key's team '{team.team_id}' is blocked.")
    models = frozenset(record.models)
    if team is not None and team.models:
        team_models = frozenset(team.models)
        models = models & team_models if models else team_models
        if not models:
            models = frozenset({"<none>"})  # key and team lists do not overlap: nothing allowed
    return Principal(
        kind="virtual_key",
        label=record.key_alias or record.key_name,
        key_hash=record.token,
        models=models,
        team_id=record.team_id,
        user_id=record.user_id,
        expires=_epoch(record.expires),
        limits=_limits(record, team, user),
        metadata=dict(record.metadata),
        team_metadata=dict(team.metadata) if team is not None else {},
    )


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _limits(record: KeyRecord, team: TeamRecord | None, user: UserRecord | None) -> tuple[ScopeLimits, ...]:
    owners: list[tuple[str, KeyRecord | TeamRecord | UserRecord]] = [(f"key:{record.token}", record)]
    if team is not None:
        owners.append((f"team:{team.team_id}", team))
    if user is not None:
        owners.append((f"user:{user.user_id}", user))
    return tuple(
        ScopeLimits(
            scope,
            rpm=owner.rpm_limit,
            tpm=owner.tpm_limit,
            parallel=owner.max_parallel_requests,
            max_budget=owner.max_budget,
            budget_duration=owner.budget_duration,
        )
        for scope, owner in owners
    )
