"""The two limits backends under one test harness, with a clock the tests move by hand.

Redis stores get a key prefix of their own per test (``bastion:test-<run>-<n>:``), so parallel runs
never meet, and every key under it is deleted afterwards. A *peer* is a second store on the same
state, as another gateway process would hold it: a second Redis client on the same prefix, or for
the memory backend (one process by definition) the same object.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from redis.asyncio import Redis

from bastion.limits.backend import Limits
from bastion.limits.memory import memory_limits
from bastion.limits.redis import redis_limits

REDIS_URL = "redis://127.0.0.1:6379/0"
_RUN = uuid.uuid4().hex[:10]
_COUNTER = itertools.count()


def redis_problem() -> str | None:
    """Why the local Redis cannot be used, or ``None`` when it answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as err:
        return f"Redis at {REDIS_URL} is not reachable ({type(err).__name__}: {err})"
    finally:
        client.close()
    return None


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class FakeClock:
    """Unix time that moves only when told, starting at the real time (calendar windows need it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Backend:
    """Builds limits stores of one kind for one test and cleans up after it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.clock = FakeClock()
        self.prefixes: list[str] = []
        self._prefix_of: dict[int, str] = {}
        self._open: list[Limits] = []
        self._clients: list[Redis] = []

    @property
    def is_redis(self) -> bool:
        return self.kind == "redis"

    def build(self, **options: Any) -> Limits:
        """A store with state of its own; ``options`` go to the factory (``clock=None``: real time)."""
        options.setdefault("clock", self.clock)
        if not self.is_redis:
            limits = memory_limits(**options)
        else:
            prefix = f"bastion:test-{_RUN}-{next(_COUNTER)}:"
            self.prefixes.append(prefix)
            limits = redis_limits(REDIS_URL, prefix=prefix, **options)
            self._prefix_of[id(limits)] = prefix
        self._open.append(limits)
        return limits

    def peer(self, limits: Limits, **options: Any) -> Limits:
        """Another process's view of ``limits`` (for memory: ``limits`` itself)."""
        if not self.is_redis:
            return limits
        options.setdefault("clock", self.clock)
        prefix = self._prefix_of[id(limits)]
        other = redis_limits(REDIS_URL, prefix=prefix, **options)
        self._prefix_of[id(other)] = prefix
        self._open.append(other)
        return other

    def prefix(self, limits: Limits) -> str:
        return self._prefix_of[id(limits)]

    def client(self, **options: Any) -> Redis:
        """A raw Redis client for tests that look at or break the store (closed afterwards)."""
        client = Redis.from_url(REDIS_URL, decode_responses=True, **options)
        self._clients.append(client)
        return client

    def run(self, main: Callable[[Limits], Awaitable[None]], **options: Any) -> None:
        """Run ``main`` with a fresh store on its own event loop, then close everything it opened."""

        async def go() -> None:
            try:
                await main(self.build(**options))
            finally:
                for limits in self._open:
                    await limits.close()
                for client in self._clients:
                    await client.aclose()
                self._open.clear()
                self._clients.clear()

        asyncio.run(go())
