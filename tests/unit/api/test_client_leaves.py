"""The hang-up watch of a non-streamed answer (``unless_client_leaves``): on Bastion's own server a
callback from the request's connection, on any other ASGI server a task reading ``receive``; either
way a client that leaves cancels the work, and one that stays gets the answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bastion.api.asgi import ClientGone, unless_client_leaves
from support.request_cycle import hang_up, read_request


def test_a_hang_up_on_bastions_server_cancels_the_work_without_a_task() -> None:
    async def main() -> None:
        cycle = read_request()
        started = asyncio.Event()
        tasks_during: list[int] = []

        async def work() -> str:
            tasks_during.append(len(asyncio.all_tasks()))
            started.set()
            await asyncio.Event().wait()  # an upstream that never answers
            return "never"

        async def client_leaves() -> None:
            await started.wait()
            hang_up(cycle)

        leaving = asyncio.ensure_future(client_leaves())
        with pytest.raises(ClientGone):
            await unless_client_leaves(cycle.receive, work())
        await leaving
        assert tasks_during == [2]  # this one and the client's: no watch task of its own

    asyncio.run(main())


def test_an_answer_on_bastions_server_is_returned_and_the_watch_stops() -> None:
    async def main() -> None:
        cycle = read_request()

        async def work() -> str:
            await asyncio.sleep(0)
            return "answer"

        assert await unless_client_leaves(cycle.receive, work()) == "answer"
        # A hang-up after the answer cancels nothing (the caller goes on to write it).
        hang_up(cycle)
        await asyncio.sleep(0)
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]

    asyncio.run(main())


def test_a_client_already_gone_cancels_the_work_at_once() -> None:
    async def main() -> None:
        cycle = read_request()
        cycle.disconnected = True
        reached: list[str] = []

        async def work() -> str:
            await asyncio.sleep(0)
            reached.append("past the first wait")
            return "never"

        with pytest.raises(ClientGone):
            await unless_client_leaves(cycle.receive, work())
        assert reached == []

    asyncio.run(main())


def test_a_body_not_read_whole_is_watched_by_reading_it() -> None:
    """The callback needs the body read: otherwise the watch reads ``receive`` (and so the rest)."""

    async def main() -> None:
        cycle = read_request()
        cycle.more_body = True
        assert cycle.on_disconnect(lambda: None) is None

    asyncio.run(main())


def test_a_hang_up_on_another_server_cancels_the_work() -> None:
    async def main() -> None:
        gone = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def work() -> str:
            gone.set()
            await asyncio.Event().wait()
            return "never"

        with pytest.raises(ClientGone):
            await unless_client_leaves(receive, work())

    asyncio.run(main())


def test_a_servers_own_cancellation_passes_through() -> None:
    """A shutdown cancelling the request's task is not a client leaving."""

    async def main() -> None:
        cycle = read_request()
        started = asyncio.Event()

        async def work() -> str:
            started.set()
            await asyncio.Event().wait()
            return "never"

        call = asyncio.ensure_future(unless_client_leaves(cycle.receive, work()))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert cycle._gone is None  # the watch was stopped

    asyncio.run(main())
