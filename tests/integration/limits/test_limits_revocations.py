"""Revocations: a deleted or blocked key is refused by every process within a second."""

from __future__ import annotations

import asyncio

import pytest
from limits_backends import REDIS_URL, Backend

from bastion.limits.backend import Limits
from bastion.limits.redis import redis_limits
from bastion.outbound.pubsub import Subscriber
from bastion.outbound.resp import RespClient, RespTarget


class _Seen:
    """A revocation listener that wakes the test when a given key hash (or a flush) arrives."""

    def __init__(self) -> None:
        self.hashes: list[str | None] = []
        self._waiting: dict[str | None, asyncio.Event] = {}

    def __call__(self, key_hash: str | None) -> None:
        self.hashes.append(key_hash)
        event = self._waiting.get(key_hash)
        if event is not None:
            event.set()

    def expect(self, key_hash: str | None) -> asyncio.Event:
        return self._waiting.setdefault(key_hash, asyncio.Event())


def test_revoke_and_unrevoke(backend: Backend) -> None:
    """A revoked hash reads revoked, from another process too; lifting it restores the key."""

    async def main(limits: Limits) -> None:
        peer = backend.peer(limits)
        await limits.revocations.revoke("h1")
        assert await peer.revocations.is_revoked("h1")
        assert not await peer.revocations.is_revoked("h2")
        await peer.revocations.unrevoke("h1")
        assert not await limits.revocations.is_revoked("h1")

    backend.run(main)


def test_revocation_reaches_another_process_within_a_second(backend: Backend) -> None:
    """A process subscribed to revocations hears of one made elsewhere in under a second."""

    async def main(limits: Limits) -> None:
        peer = backend.peer(limits)
        seen = _Seen()
        await peer.revocations.subscribe(seen)
        revoked, restored = seen.expect("h1"), seen.expect("h2")
        await limits.revocations.revoke("h1")
        await asyncio.wait_for(revoked.wait(), timeout=1.0)
        await limits.revocations.unrevoke("h2")  # an unblocked key: caches must reload it too
        await asyncio.wait_for(restored.wait(), timeout=1.0)
        assert seen.hashes == ["h1", "h2"]

    backend.run(main)


def test_failing_listener_does_not_silence_the_others(backend: Backend) -> None:
    """One listener raising does not stop the next one from hearing the notice."""

    async def main(limits: Limits) -> None:
        def broken(key_hash: str | None) -> None:
            raise RuntimeError("listener bug")

        seen = _Seen()
        peer = backend.peer(limits)
        await peer.revocations.subscribe(broken)
        await peer.revocations.subscribe(seen)
        arrived = seen.expect("h1")
        await limits.revocations.revoke("h1")
        await asyncio.wait_for(arrived.wait(), timeout=1.0)

    backend.run(main)


@pytest.mark.redis
def test_subscriber_flushes_and_recovers_after_losing_its_connection(redis_backend: Backend) -> None:
    """When the subscription's connection dies, listeners are told to drop everything (notices may
    have been missed), again once it is subscribed anew, and notices flow again."""

    async def main(limits: Limits) -> None:
        name = f"revocations-{redis_backend.prefix(limits).split(':')[1]}"
        target = RespTarget.from_url(REDIS_URL)
        client, pubsub = RespClient(target), Subscriber(target, name=name)
        subscriber = redis_limits(
            client=client, subscriber=pubsub, prefix=redis_backend.prefix(limits), clock=redis_backend.clock
        )
        try:
            seen = _Seen()
            await subscriber.revocations.subscribe(seen)
            admin = redis_backend.client()
            ids = [entry["id"] for entry in await admin.client_list(_type="pubsub") if entry["name"] == name]
            assert len(ids) == 1
            await admin.client_kill_filter(_id=ids[0])
            resubscribed = asyncio.Event()
            while not resubscribed.is_set():  # one None when the connection is lost, one when back
                await asyncio.wait_for(seen.expect(None).wait(), timeout=2.0)
                if seen.hashes.count(None) == 2:
                    resubscribed.set()
                else:
                    seen.expect(None).clear()
            assert seen.hashes == [None, None]
            # Subscribed again before the second None: the next notice arrives.
            arrived = seen.expect("h1")
            await limits.revocations.revoke("h1")
            await asyncio.wait_for(arrived.wait(), timeout=1.0)
            assert pubsub.connections == 2
        finally:
            await subscriber.close()
            await pubsub.close()
            await client.close()

    redis_backend.run(main)
