"""The shared response cache in Redis, on the lean pipelined client the limits use.

Best effort: a Redis that is down or slow makes a lookup a miss and a store a no-op (logged, with
the URL's password never in it), never a failed request.
"""

from __future__ import annotations

import logging

from bastion.limits._resp import RespClient, RespConnectionError, RespError, RespTarget

__all__ = ["RedisCacheStore"]

_log = logging.getLogger("bastion.cache")


class RedisCacheStore:
    """``GET`` and ``SET ... PX`` on the lean pipelined client the limits use."""

    def __init__(self, url: str, *, connections: int = 2) -> None:
        self._client = RespClient(RespTarget.from_url(url), size=connections, command_timeout=1.0)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.execute("GET", key)
        except (RespConnectionError, RespError) as err:
            _log.warning("cache lookup failed, answering from the provider: %s", err)
            return None
        # The client's reader decodes replies as UTF-8 text; stored answers are UTF-8 JSON.
        if isinstance(value, str):
            return value.encode()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._client.execute("SET", key, value, "PX", max(int(ttl * 1000), 1))
        except (RespConnectionError, RespError) as err:
            _log.warning("storing an answer in the cache failed: %s", err)

    async def close(self) -> None:
        await self._client.close()
