"""Key revocations in Redis: a marker per key with a TTL, and a pub/sub channel that tells caches.

The marker answers :meth:`RedisRevocations.is_revoked` for any process; the channel makes every
subscribed process drop the key from its cache at once. Notices arrive on the process's one
pub/sub connection (:class:`~bastion.outbound.pubsub.Subscriber`), which may miss some while it is
down: its listeners get ``None`` (trust no cached key as it is) when the connection drops and again
once it is subscribed again.
"""

from __future__ import annotations

import asyncio

from bastion.limits._listeners import notify
from bastion.limits._redis_store import RedisLimitsStore, Script
from bastion.limits.backend import RevocationListener
from bastion.limits.errors import LimitsUnavailableError
from bastion.outbound.pubsub import Subscriber
from bastion.outbound.resp import RespConnectionError

__all__ = ["RedisRevocations"]

#: The marker and the notice in one step: a subscriber that hears the notice finds the marker.
_REVOKE = Script(
    """
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""
)
_SUBSCRIBE_TIMEOUT = 5.0


class RedisRevocations:
    """:class:`~bastion.limits.backend.RevocationList` shared by every process using the same Redis."""

    def __init__(self, store: RedisLimitsStore, subscriber: Subscriber, *, ttl: float = 86400.0) -> None:
        self._store = store
        self._subscriber = subscriber
        self._ttl_ms = int(ttl * 1000)
        self._channel = f"{store.prefix}revoked"
        self._listeners: list[RevocationListener] = []
        self._subscribed = False
        self._subscribing = asyncio.Lock()

    async def revoke(self, key_hash: str) -> None:
        await self._store.run(
            _REVOKE, [self._store.key("rev", key_hash)], [self._ttl_ms, self._channel, key_hash]
        )

    async def unrevoke(self, key_hash: str) -> None:
        await self._store.run(_REVOKE, [self._store.key("rev", key_hash)], ["", self._channel, key_hash])

    async def is_revoked(self, key_hash: str) -> bool:
        return bool(await self._store.execute("EXISTS", self._store.key("rev", key_hash)))

    async def subscribe(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)
        async with self._subscribing:  # the channel's one listener here, even for concurrent callers
            if self._subscribed:
                return
            try:
                await self._subscriber.subscribe(self._channel, self._notify, timeout=_SUBSCRIBE_TIMEOUT)
            except RespConnectionError as err:
                self._listeners.remove(listener)
                raise LimitsUnavailableError(f"Could not subscribe to key revocations ({err}).") from err
            self._subscribed = True

    async def close(self) -> None:
        if self._subscribed:
            self._subscribed = False
            self._subscriber.unsubscribe(self._channel, self._notify)

    def _notify(self, key_hash: str | None) -> None:
        notify(self._listeners, key_hash)
