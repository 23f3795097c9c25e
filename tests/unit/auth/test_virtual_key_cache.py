"""The virtual-key cache: concurrent requests share one load; a key forgotten mid-load is not cached."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import pytest

from bastion.auth.virtual_keys import VirtualKeys
from bastion.domain.errors import AuthenticationError
from bastion.store.errors import StoreUnavailableError
from bastion.store.keys import KeyRepository
from bastion.store.records import KeyRecord
from bastion.store.teams import TeamRepository
from bastion.tasks import drain


class _Keys:
    """A key repository whose reads wait until the test lets them finish."""

    def __init__(self) -> None:
        self.reads = 0
        self.gate = asyncio.Event()
        self.reading: dict[str, asyncio.Event] = {}
        self.alias = "first"

    def started(self, token: str) -> asyncio.Event:
        return self.reading.setdefault(token, asyncio.Event())

    async def resolve(self, token: str) -> KeyRecord | None:
        self.reads += 1
        alias = self.alias
        self.started(token).set()
        await self.gate.wait()
        return KeyRecord(token=token, key_name="sk-...abcd", key_alias=alias)


def _cache(keys: _Keys) -> VirtualKeys:
    return VirtualKeys(cast(KeyRepository, keys), cast(TeamRepository, None))


def test_concurrent_lookups_of_one_key_read_the_store_once() -> None:
    async def main() -> None:
        keys = _Keys()
        cache = _cache(keys)
        lookups = [asyncio.ensure_future(cache.principal("h1")) for _ in range(20)]
        other = asyncio.ensure_future(cache.principal("h2"))
        await keys.started("h1").wait()
        await keys.started("h2").wait()
        keys.gate.set()
        principals: list[Any] = await asyncio.gather(*lookups, other)
        assert keys.reads == 2
        assert {p.key_hash for p in principals} == {"h1", "h2"}
        await cache.principal("h1")
        assert keys.reads == 2  # cached now

    asyncio.run(main())


def test_a_key_forgotten_while_loading_is_not_cached() -> None:
    """A revocation that lands during a load must not leave the pre-revocation answer cached."""

    async def main() -> None:
        keys = _Keys()
        cache = _cache(keys)
        first = asyncio.ensure_future(cache.principal("h1"))
        await keys.started("h1").wait()
        cache.forget("h1")
        keys.alias = "second"
        keys.gate.set()
        assert (await first) is not None and (await first).label == "first"
        assert (await cache.principal("h1")).label == "second"  # type: ignore[union-attr]
        assert keys.reads == 2

    asyncio.run(main())


def test_a_waiter_that_leaves_does_not_cancel_the_shared_load() -> None:
    async def main() -> None:
        keys = _Keys()
        cache = _cache(keys)
        leader = asyncio.ensure_future(cache.principal("h1"))
        follower = asyncio.ensure_future(cache.principal("h1"))
        await keys.started("h1").wait()  # both are waiting on the one load by now
        leader.cancel()
        keys.gate.set()
        principal = await follower
        assert principal is not None and principal.key_hash == "h1"
        assert keys.reads == 1

    asyncio.run(main())


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Store:
    """A key repository that answers at once, or fails like a database that is down."""

    def __init__(self) -> None:
        self.reads = 0
        self.down = False
        self.alias = "first"

    async def resolve(self, token: str) -> KeyRecord | None:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError("the database is unavailable")
        return KeyRecord(token=token, key_name="sk-...abcd", key_alias=self.alias)


def _timed(store: _Store, clock: _Clock, *, serve_known_keys: bool) -> VirtualKeys:
    return VirtualKeys(
        cast(KeyRepository, store),
        cast(TeamRepository, None),
        ttl=5.0,
        serve_known_keys=serve_known_keys,
        clock=clock,
    )


def test_a_key_in_use_is_read_again_before_its_entry_expires() -> None:
    """Used in the last fifth of its entry's life, a key is answered from the cache and read
    again in the background: after the old expiry no request waits for the database."""

    async def main() -> None:
        store, clock = _Store(), _Clock()
        cache = _timed(store, clock, serve_known_keys=False)
        await cache.principal("h1")
        clock.now += 3.0  # not yet the last fifth: nothing read
        await cache.principal("h1")
        await drain()
        assert store.reads == 1
        store.alias = "second"
        clock.now += 1.5  # 0.5 s left: answered from the entry, read again meanwhile
        assert (await cache.principal("h1")).label == "first"  # type: ignore[union-attr]
        await drain()
        assert store.reads == 2
        store.down = True  # the refreshed entry lasts 5 s from the refresh: no read needed now
        clock.now += 1.0
        assert (await cache.principal("h1")).label == "second"  # type: ignore[union-attr]
        assert store.reads == 2

    asyncio.run(main())


def test_a_refresh_that_fails_leaves_the_entry_to_expire_and_fail_closed() -> None:
    """The database down when the key is read ahead: nothing changes, the entry expires at its
    time, and a gateway configured to fail closed refuses the next request with the 503."""

    async def main() -> None:
        store, clock = _Store(), _Clock()
        cache = _timed(store, clock, serve_known_keys=False)
        await cache.principal("h1")
        store.down = True
        clock.now += 4.5
        assert await cache.principal("h1") is not None  # still fresh: from the entry
        await drain()
        assert store.reads == 2  # the read ahead was tried, and failed quietly
        clock.now += 0.6  # past the entry's original expiry
        with pytest.raises(StoreUnavailableError):
            await cache.principal("h1")

    asyncio.run(main())


def test_a_key_blocked_meanwhile_is_dropped_by_the_refresh() -> None:
    """A read ahead that finds the key blocked drops the entry: the next request is refused."""

    async def main() -> None:
        store, clock = _Store(), _Clock()
        cache = _timed(store, clock, serve_known_keys=True)
        await cache.principal("h1")
        original = store.resolve

        async def blocked(token: str) -> KeyRecord | None:
            record = await original(token)
            return None if record is None else replace(record, blocked=True)

        store.resolve = blocked  # type: ignore[method-assign]
        clock.now += 4.5
        await cache.principal("h1")
        await drain()
        with pytest.raises(AuthenticationError):
            await cache.principal("h1")

    asyncio.run(main())
