"""The key cache during a database outage, and the two ways entries leave it.

``forget(None)`` (the revocation channel may have missed notices) marks every entry stale: each is
read again, and in an outage served only once the revocation markers say it was not revoked.
``forget(token)`` (the Announcer of a key change in this process, or a notice from another)
drops the entry: in an outage that key is refused with the database's 503 rather than served as
it was before the change.
"""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from bastion.administration import Announcer
from bastion.auth.virtual_keys import VirtualKeys
from bastion.domain.errors import AuthenticationError
from bastion.limits import memory_limits
from bastion.store.errors import StoreUnavailableError
from bastion.store.keys import KeyRepository
from bastion.store.records import KeyRecord
from bastion.store.teams import TeamRepository


class _Keys:
    """A key repository that can be taken down."""

    def __init__(self) -> None:
        self.down = False
        self.reads = 0

    async def resolve(self, token: str) -> KeyRecord | None:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError("The database is unavailable.")
        return KeyRecord(token=token, key_name="sk-...abcd", key_alias=token)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup() -> tuple[VirtualKeys, _Keys, _Clock, Announcer]:
    keys, clock = _Keys(), _Clock()
    limits = memory_limits()
    virtual = VirtualKeys(cast(KeyRepository, keys), cast(TeamRepository, None), ttl=5.0, clock=clock)
    virtual.is_revoked = limits.revocations.is_revoked
    asyncio.run(limits.revocations.subscribe(virtual.forget))
    # As app.py builds it: a change is forgotten here first, then announced on the channel.
    announcer = Announcer(limits.revocations.revoke, limits.revocations.unrevoke, forget=virtual.forget)
    return virtual, keys, clock, announcer


def test_after_missed_notices_known_keys_are_read_again_and_still_served_in_an_outage() -> None:
    virtual, keys, clock, _ = _setup()

    async def scenario() -> None:
        assert (await virtual.principal("kept")) is not None
        virtual.forget(None)  # the channel dropped: every entry is stale...
        assert (await virtual.principal("kept")) is not None
        assert keys.reads == 2  # ...so it is read again, though its ttl had not run out
        keys.down = True
        virtual.forget(None)  # dropped again, now in an outage: the entry is kept all the same
        clock.now += 1
        principal = await virtual.principal("kept")  # its last value, since it is not revoked
        assert principal is not None and principal.label == "kept" and keys.reads == 3

    asyncio.run(scenario())


def test_a_key_changed_through_the_announcer_is_not_served_from_the_cache_in_an_outage() -> None:
    virtual, keys, _, announcer = _setup()

    async def scenario() -> None:
        for token in ("changed", "revoked", "other"):
            assert (await virtual.principal(token)) is not None
        keys.down = True
        await announcer.changed(["changed"])
        await announcer.revoked(["revoked"])
        virtual.forget(None)
        with pytest.raises(StoreUnavailableError):  # no value to trust: the database's 503
            await virtual.principal("changed")
        with pytest.raises(AuthenticationError, match="revoked"):  # its marker says so: a 401
            await virtual.principal("revoked")
        assert (await virtual.principal("other")) is not None

    asyncio.run(scenario())
