"""The shared response cache in Redis, on the process's one Redis client.

Best effort: a Redis that is down or slow makes a lookup a miss and a store a no-op (logged, with
the URL's password never in it), never a failed request. A lookup waits at most ``timeout``
seconds, so a stuck Redis costs a request that long, not the client's whole command timeout.
"""

from __future__ import annotations

import asyncio
import logging

from bastion.outbound.resp import RespClient, RespConnectionError, RespError

__all__ = ["RedisCacheStore"]

_log = logging.getLogger("bastion.cache")


class RedisCacheStore:
    """``GET`` and ``SET ... PX`` on the process's Redis client (its owner closes it)."""

    def __init__(self, client: RespClient, *, timeout: float = 1.0) -> None:
        self._client = client
        self._timeout = timeout

    async def get(self, key: str) -> bytes | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._client.execute("GET", key)
        except (RespConnectionError, RespError, TimeoutError) as err:
            _log.warning("cache lookup failed, answering from the provider: %s", _reason(err))
            return None
        # The client's reader decodes replies as UTF-8 text; stored answers are UTF-8 JSON.
        if isinstance(value, str):
            return value.encode()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.execute("SET", key, value, "PX", max(int(ttl * 1000), 1))
        except (RespConnectionError, RespError, TimeoutError) as err:
            _log.warning("storing an answer in the cache failed: %s", _reason(err))

    async def close(self) -> None:
        return None


def _reason(err: Exception) -> str:
    if isinstance(err, TimeoutError):
        return "Redis did not answer in time"
    return str(err)
