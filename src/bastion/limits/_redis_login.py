"""Failed-login counters in Redis, so every gateway process sees the same failures.

Counters live under ``<prefix>login:<hash>``, each with a TTL, on the process's one Redis client.
Redis failures are :class:`~bastion.limits.errors.LimitsUnavailableError` (503): logins fail
closed rather than unthrottled.
"""

from __future__ import annotations

from bastion.limits._redis_store import RedisLimitsStore, Script
from bastion.limits.errors import LimitsUnavailableError
from bastion.outbound.resp import RespClient

__all__ = ["RedisFailureCounter"]

_COUNT = Script("return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}")
_ADD = Script(
    """
local count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return count
"""
)


class RedisFailureCounter:
    """:class:`~bastion.limits.login.FailureCounter` in Redis (the client is its owner's to close)."""

    def __init__(self, client: RespClient, *, prefix: str = "bastion:") -> None:
        self._store = RedisLimitsStore(client, prefix=prefix)

    def _key(self, key: str) -> str:
        return self._store.key("login", key)

    async def count(self, key: str) -> tuple[int, float]:
        try:
            value, ttl_ms = await self._store.run(_COUNT, [self._key(key)], [])
        except LimitsUnavailableError as exc:
            raise _unavailable() from exc
        if value is None or ttl_ms is None or int(ttl_ms) <= 0:
            return 0, 0.0
        return int(value), int(ttl_ms) / 1000

    async def add(self, key: str, ttl: float) -> int:
        try:
            count = await self._store.run(_ADD, [self._key(key)], [max(int(ttl * 1000), 1)])
        except LimitsUnavailableError as exc:
            raise _unavailable() from exc
        return int(count)

    async def clear(self, key: str) -> None:
        try:
            await self._store.execute("DEL", self._key(key))
        except LimitsUnavailableError as exc:
            raise _unavailable() from exc

    async def close(self) -> None:
        await self._store.close()


def _unavailable() -> LimitsUnavailableError:
    return LimitsUnavailableError("Logins are paused: the shared limits store (Redis) is unavailable.")
