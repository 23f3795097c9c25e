"""Limits shared by every gateway process through Redis (``redis_url``).

Each operation is one Lua script (:mod:`bastion.limits._lua`) run with ``EVALSHA`` on the lean
pipelined client of :mod:`bastion.limits._resp` (the request path); the script is loaded with
``SCRIPT LOAD`` the first time Redis answers ``NOSCRIPT`` (first use, or after Redis restarted or
flushed its scripts). Pub/sub and the revocation markers use redis-py. Keys live under
``bastion:`` and always carry a TTL.

Releases and settlements run shielded: a request cancelled while it releases (a client gone, a
shutdown) still frees its slot, and ``Limits.close()`` waits for them. Redis failures surface as
:class:`~bastion.limits.errors.LimitsUnavailableError`; whether to fail open or closed is the
caller's choice.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

from redis.asyncio import BlockingConnectionPool, Redis

from bastion.limits._redis_budgets import RedisBudgets
from bastion.limits._redis_gate import RedisGate
from bastion.limits._redis_rates import RedisRateLimiter
from bastion.limits._redis_revocations import RedisRevocations
from bastion.limits._redis_store import Clock, RedisLimitsStore
from bastion.limits._resp import RespClient, RespTarget
from bastion.limits.backend import Limits
from bastion.limits.reservation import SpendLoader

__all__ = [
    "RedisBudgets",
    "RedisGate",
    "RedisLimitsStore",
    "RedisRateLimiter",
    "RedisRevocations",
    "redis_limits",
]


def redis_limits(
    url: str | None = None,
    *,
    client: Redis | None = None,
    prefix: str = "bastion:",
    clock: Clock | None = None,
    lease_ttl: float = 900.0,
    idle_ttl: float = 7 * 86400.0,
    revocation_ttl: float = 86400.0,
    timezone: tzinfo = UTC,
    loader: SpendLoader | None = None,
    max_connections: int = 64,
    pool_timeout: float = 5.0,
) -> Limits:
    """Limits shared through the Redis at ``url`` (or an existing ``client``, left open on close).

    ``lease_ttl`` bounds how long a parallel slot or a budget reservation outlives a process that
    died holding it. ``idle_ttl`` is how long an untouched budget counter stays in Redis; after
    that (or after Redis lost it) ``loader`` reads the spend back from the database. Without a
    loader a lost counter restarts at 0. ``clock`` (tests) replaces the Redis server's time.
    """
    if (url is None) == (client is None):
        raise ValueError("give redis_limits either a url or a client")
    owned = client is None
    if client is None:
        # A pool that waits for a free connection under load instead of failing the request
        # (redis-py's default pool raises MaxConnectionsError once all are in use).
        pool = BlockingConnectionPool.from_url(
            url or "", decode_responses=True, max_connections=max_connections, timeout=pool_timeout
        )
        client = Redis(connection_pool=pool)
    target = RespTarget.from_url(url) if url is not None else _target_of(client)
    store = RedisLimitsStore(client, RespClient(target), prefix=prefix, clock=clock)
    revocations = RedisRevocations(store, ttl=revocation_ttl)

    async def close() -> None:
        await revocations.close()
        await store.close(close_client=owned)

    rates = RedisRateLimiter(store, lease_ttl=lease_ttl)
    budgets = RedisBudgets(store, lease_ttl=lease_ttl, idle_ttl=idle_ttl, timezone=timezone, loader=loader)
    return Limits(
        rates=rates,
        budgets=budgets,
        revocations=revocations,
        gate=RedisGate(store, rates, budgets),
        closer=close,
    )


def _target_of(client: Redis) -> RespTarget:
    """Where an existing redis-py client connects, for the scripts' own connection."""
    options = client.connection_pool.connection_kwargs
    return RespTarget(
        str(options.get("host", "127.0.0.1")),
        int(options.get("port", 6379)),
        db=int(options.get("db", 0) or 0),
        username=options.get("username"),
        password=options.get("password"),
        tls="ssl" in str(client.connection_pool.connection_class.__name__).lower(),
    )
