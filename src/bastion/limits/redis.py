"""Limits shared by every gateway process through Redis (``redis_url``).

Each operation is one Lua script (:mod:`bastion.limits._lua`) run with ``EVALSHA`` on the
process's pipelined Redis client (:mod:`bastion.outbound.resp`); the script is loaded with
``SCRIPT LOAD`` the first time Redis answers ``NOSCRIPT`` (first use, or after Redis restarted or
flushed its scripts). Revocation notices arrive on the process's pub/sub connection
(:mod:`bastion.outbound.pubsub`). Keys live under ``bastion:`` and always carry a TTL.

Releases and settlements run shielded: a request cancelled while it releases (a client gone, a
shutdown) still frees its slot, and ``Limits.close()`` waits for them. Redis failures surface as
:class:`~bastion.limits.errors.LimitsUnavailableError`; whether to fail open or closed is the
caller's choice.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

from bastion.limits._redis_budgets import RedisBudgets
from bastion.limits._redis_gate import RedisGate
from bastion.limits._redis_login import RedisFailureCounter
from bastion.limits._redis_rates import RedisRateLimiter
from bastion.limits._redis_revocations import RedisRevocations
from bastion.limits._redis_store import Clock, RedisLimitsStore
from bastion.limits.backend import Limits
from bastion.limits.reservation import SpendLoader
from bastion.outbound.pubsub import Subscriber
from bastion.outbound.resp import RespClient, RespTarget

__all__ = [
    "RedisBudgets",
    "RedisFailureCounter",
    "RedisGate",
    "RedisLimitsStore",
    "RedisRateLimiter",
    "RedisRevocations",
    "redis_limits",
]


def redis_limits(
    url: str | None = None,
    *,
    client: RespClient | None = None,
    subscriber: Subscriber | None = None,
    prefix: str = "bastion:",
    clock: Clock | None = None,
    lease_ttl: float = 900.0,
    idle_ttl: float = 7 * 86400.0,
    revocation_ttl: float = 86400.0,
    timezone: tzinfo = UTC,
    loader: SpendLoader | None = None,
) -> Limits:
    """Limits shared through Redis: the process's ``client`` and ``subscriber`` (left open on
    close: their owner closes them), or a client and subscriber of their own for ``url``.

    ``lease_ttl`` bounds how long a parallel slot or a budget reservation outlives a process that
    died holding it. ``idle_ttl`` is how long an untouched budget counter stays in Redis; after
    that (or after Redis lost it) ``loader`` reads the spend back from the database. Without a
    loader a lost counter restarts at 0. ``clock`` (tests) replaces the Redis server's time.
    """
    if (url is None) == (client is None) or (client is None) != (subscriber is None):
        raise ValueError("give redis_limits either a url, or a client and a subscriber")
    owned: tuple[RespClient, Subscriber] | None = None
    if client is None or subscriber is None:
        target = RespTarget.from_url(url or "")
        client, subscriber = RespClient(target), Subscriber(target)
        owned = (client, subscriber)
    store = RedisLimitsStore(client, prefix=prefix, clock=clock)
    revocations = RedisRevocations(store, subscriber, ttl=revocation_ttl)

    async def close() -> None:
        await revocations.close()
        await store.close()
        if owned is not None:
            await owned[1].close()
            await owned[0].close()

    rates = RedisRateLimiter(store, lease_ttl=lease_ttl)
    budgets = RedisBudgets(store, lease_ttl=lease_ttl, idle_ttl=idle_ttl, timezone=timezone, loader=loader)
    return Limits(
        rates=rates,
        budgets=budgets,
        revocations=revocations,
        gate=RedisGate(store, rates, budgets),
        closer=close,
    )
