"""Where cached answers live: in this process (bounded LRU with a TTL) or in Redis (shared).

The Redis store is :mod:`bastion.gateway.cache_redis` (imported only when configured).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["CacheStore", "MemoryCacheStore"]


class CacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def close(self) -> None: ...


class MemoryCacheStore:
    """At most ``max_entries`` answers; the least recently used goes first, expired ones on sight."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        entries = self._entries
        entries[key] = (time.monotonic() + ttl, value)
        entries.move_to_end(key)
        while len(entries) > self._max:
            entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()
