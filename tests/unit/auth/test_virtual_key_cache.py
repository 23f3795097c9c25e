"""The virtual-key cache: concurrent requests share one load; a key forgotten mid-load is not cached."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bastion.auth.virtual_keys import VirtualKeys
from bastion.store.keys import KeyRepository
from bastion.store.records import KeyRecord
from bastion.store.teams import TeamRepository


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
