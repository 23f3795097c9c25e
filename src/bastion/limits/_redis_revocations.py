"""Key revocations in Redis: a marker per key with a TTL, and a pub/sub channel that tells caches.

The marker answers :meth:`RedisRevocations.is_revoked` for any process; the channel makes every
subscribed process drop the key from its cache at once. A subscriber that loses its connection may
miss notices, so its listeners get ``None`` (drop everything) when the connection drops and again
when redis-py has reconnected and re-subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from bastion.limits._listeners import notify
from bastion.limits._redis_store import RedisLimitsStore
from bastion.limits.backend import RevocationListener
from bastion.limits.errors import LimitsUnavailableError
from bastion.tasks import spawn_service

__all__ = ["RedisRevocations"]

_log = logging.getLogger("bastion.limits")
_SUBSCRIBE_TIMEOUT = 5.0
_MAX_BACKOFF = 2.0


class RedisRevocations:
    """:class:`~bastion.limits.backend.RevocationList` shared by every process using the same Redis."""

    def __init__(self, store: RedisLimitsStore, *, ttl: float = 86400.0) -> None:
        self._store = store
        self._ttl_ms = int(ttl * 1000)
        self._channel = f"{store.prefix}revoked"
        self._listeners: list[RevocationListener] = []
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None

    async def revoke(self, key_hash: str) -> None:
        client = self._store.client
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(self._store.key("rev", key_hash), "1", px=self._ttl_ms)
            pipe.publish(self._channel, key_hash)
            await self._store.call(pipe.execute)

    async def unrevoke(self, key_hash: str) -> None:
        async with self._store.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._store.key("rev", key_hash))
            pipe.publish(self._channel, key_hash)
            await self._store.call(pipe.execute)

    async def is_revoked(self, key_hash: str) -> bool:
        key = self._store.key("rev", key_hash)
        return bool(await self._store.call(lambda: self._store.client.exists(key)))

    async def subscribe(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)
        if self._task is not None:
            return
        pubsub = self._store.client.pubsub()
        try:
            async with asyncio.timeout(_SUBSCRIBE_TIMEOUT):
                await pubsub.subscribe(self._channel)
                # Notices published before Redis confirms the subscription would be lost.
                while True:
                    message = await pubsub.get_message(timeout=_SUBSCRIBE_TIMEOUT)
                    if message is not None and message["type"] == "subscribe":
                        break
        except (RedisError, TimeoutError) as err:
            await _close(pubsub)
            raise LimitsUnavailableError(
                f"Could not subscribe to key revocations ({type(err).__name__})."
            ) from err
        # Set by the subscription above (redis-py types it as always None) and kept on reconnects.
        connection: Connection | None = getattr(pubsub, "connection", None)
        if connection is not None:
            connection.register_connect_callback(self._reconnected)  # type: ignore[no-untyped-call]
        self._pubsub = pubsub
        self._task = spawn_service(self._listen(pubsub), name="bastion-revocations")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pubsub is not None:
            await _close(self._pubsub)
            self._pubsub = None

    async def _listen(self, pubsub: PubSub) -> None:
        backoff = 0.05
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except RedisError as err:
                _log.warning("revocation subscription lost (%s); retrying", type(err).__name__)
            except Exception:  # the top of a background task: it must outlive any surprise
                _log.exception("revocation subscription failed; retrying")
            else:
                backoff = 0.05
                if message is not None and message["type"] == "message":
                    self._notify(_text(message["data"]))
                continue
            self._notify(None)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _reconnected(self, connection: Connection) -> None:
        # Runs after redis-py re-subscribed on a new connection: notices may have been missed.
        self._notify(None)

    def _notify(self, key_hash: str | None) -> None:
        notify(self._listeners, key_hash)


async def _close(pubsub: PubSub) -> None:
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py 8.1 leaves PubSub.aclose untyped


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
