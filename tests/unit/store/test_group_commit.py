"""Group commit: concurrent submissions share a transaction, each caller learns its own outcome."""

from __future__ import annotations

import asyncio

from bastion import tasks
from bastion.store._group_commit import GroupCommit
from bastion.store.errors import StoreUnavailableError


def test_items_arriving_during_a_transaction_form_the_next_batch() -> None:
    """A lone item is written at once; the ones submitted while it is in flight go together next;
    every submit returns only after its own batch committed."""

    async def scenario() -> tuple[list[list[str]], list[str]]:
        batches: list[list[str]] = []
        committed: list[str] = []
        release = asyncio.Event()
        writing = asyncio.Event()
        queued = asyncio.Event()

        async def write(items: list[str]) -> None:
            batches.append(items)
            writing.set()
            if len(batches) == 1:
                await release.wait()
            committed.extend(items)

        group: GroupCommit[str] = GroupCommit(write, name="test")
        returned: list[str] = []

        async def submit(item: str) -> None:
            if item == "d":
                queued.set()  # d is queued before this task next yields, at its own submit
            await group.submit(item)
            assert item in committed  # never before its transaction
            returned.append(item)

        first = tasks.spawn_awaited(submit("a"), name="a")
        await writing.wait()
        others = [tasks.spawn_awaited(submit(x), name=x) for x in "bcd"]
        await queued.wait()  # b, c and d wait behind the open transaction
        assert returned == [] and len(batches) == 1
        release.set()
        await asyncio.gather(first, *others)
        return batches, returned

    batches, returned = asyncio.run(scenario())
    assert batches == [["a"], ["b", "c", "d"]]
    assert sorted(returned) == ["a", "b", "c", "d"]


def test_an_unavailable_database_fails_every_caller_of_the_batch() -> None:
    async def scenario() -> list[BaseException | None]:
        calls: list[list[int]] = []

        async def write(items: list[int]) -> None:
            calls.append(items)
            raise StoreUnavailableError("down", code="database_unavailable")

        group: GroupCommit[int] = GroupCommit(write, name="test")
        return await asyncio.gather(*(group.submit(n) for n in range(10)), return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert len(outcomes) == 10
    assert all(isinstance(outcome, StoreUnavailableError) for outcome in outcomes)


def test_a_refused_row_fails_only_its_own_caller() -> None:
    """A batch the database refuses for its content is retried one item per transaction."""

    async def scenario() -> tuple[list[BaseException | None], list[int]]:
        stored: list[int] = []

        async def write(items: list[int]) -> None:
            if 3 in items:
                raise ValueError("refused")
            stored.extend(items)

        group: GroupCommit[int] = GroupCommit(write, name="test")
        outcomes = await asyncio.gather(*(group.submit(n) for n in range(6)), return_exceptions=True)
        return outcomes, stored

    outcomes, stored = asyncio.run(scenario())
    assert [isinstance(o, ValueError) for o in outcomes] == [False, False, False, True, False, False]
    assert sorted(stored) == [0, 1, 2, 4, 5]


def test_batches_stop_at_their_limits() -> None:
    async def scenario() -> list[list[int]]:
        batches: list[list[int]] = []

        async def write(items: list[int]) -> None:
            batches.append(items)

        group: GroupCommit[int] = GroupCommit(write, name="test", max_items=4, max_size=10, size=lambda n: n)
        await asyncio.gather(*(group.submit(n) for n in [1, 1, 1, 1, 1, 9, 20, 1]))
        return batches

    assert asyncio.run(scenario()) == [[1, 1, 1, 1], [1, 9], [20], [1]]


def test_a_writer_cancelled_at_shutdown_fails_its_waiters() -> None:
    async def scenario() -> list[BaseException | None]:
        started = asyncio.Event()

        async def write(items: list[int]) -> None:
            started.set()
            await asyncio.Event().wait()  # a database that never answers

        group: GroupCommit[int] = GroupCommit(write, name="test")
        waiting = asyncio.gather(*(group.submit(n) for n in range(3)), return_exceptions=True)
        await started.wait()
        await tasks.current().close(timeout=0)
        return await waiting

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, StoreUnavailableError) for outcome in outcomes)
