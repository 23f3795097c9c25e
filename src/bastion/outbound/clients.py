"""The process's outbound clients, created once by the composition root and closed last.

::

    clients = OutboundClients(redis_url=settings.bastion.redis_url)
    clients.http         # providers, billing sinks, the credit check, the JWKS fetch
    clients.redis        # limits, revocation markers, login throttle, shared health, cache
    clients.subscriber   # revocation notices (and any other channel)
    ...
    await clients.close()

Without ``redis_url`` there is no Redis client and no subscriber, and nothing Redis is imported.
A gateway process holds at most two connections to its Redis: one for commands, pipelined, and
one in pub/sub mode. A response cache configured on another Redis server (``cache_params``) adds
one command connection to that server (:meth:`OutboundClients.redis_at`).
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING

from bastion.outbound.http import HttpPool

if TYPE_CHECKING:
    from bastion.outbound.pubsub import Subscriber
    from bastion.outbound.resp import RespClient

__all__ = ["OutboundClients"]


class OutboundClients:
    """One HTTP client, one Redis client per Redis server, one pub/sub connection."""

    def __init__(self, *, redis_url: str | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.http = HttpPool(tls=tls)
        #: What ``CLIENT LIST`` shows for this process's Redis connections.
        self.name = f"bastion-{os.getpid()}"
        self._redis: dict[str, RespClient] = {}
        self.redis: RespClient | None = None
        self.subscriber: Subscriber | None = None
        if redis_url:
            from bastion.outbound.pubsub import Subscriber

            self.redis = self.redis_at(redis_url)
            self.subscriber = Subscriber(self.redis.target, name=f"{self.name}-pubsub")

    def redis_at(self, url: str) -> RespClient:
        """The client for the Redis at ``url``: the same object for every caller of one URL."""
        client = self._redis.get(url)
        if client is None:
            from bastion.outbound.resp import RespClient, RespTarget

            client = self._redis[url] = RespClient(RespTarget.from_url(url), name=self.name)
        return client

    async def close(self) -> None:
        """Close every connection (after their users stopped: nothing is waited for here)."""
        if self.subscriber is not None:
            await self.subscriber.close()
        for client in self._redis.values():
            await client.close()
        await self.http.close()
