"""``stream_response`` without tasks of its own: the producer runs in the caller's task, the
keep-alive is a timer that looks at the last write when it fires, and on Bastion's own server the
hang-up watch is the connection's callback. These pin what the tasks used to give: keep-alives
while the producer is silent (and only then), a hang-up that tells the producer and cancels it,
an outside cancellation that passes through, and no cancellation left over for the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from bastion.api.asgi import stream_response
from support.request_cycle import hang_up, read_request

KEEPALIVE = b": ping\n\n"


class _Client:
    """A send with ``body_chunk``, as the scrubber hands it on; ``slow`` makes each write wait."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.ended = False
        self.slow = False
        self.on_write: Any = None

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("body"):
                self.out.append(message["body"])
            if not message.get("more_body", False):
                self.ended = True

    def body_chunk(self, body: bytes) -> Awaitable[None] | None:
        if self.slow:
            return self._later(body)
        self.out.append(body)
        if self.on_write is not None:
            self.on_write(body)
        return None

    async def _later(self, body: bytes) -> None:
        await asyncio.sleep(0)
        self.out.append(body)
        if self.on_write is not None:
            self.on_write(body)


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError


def _stream(
    client: _Client, receive: Any, chunks: AsyncIterator[bytes], events: list[str], seconds: float
) -> Any:
    return stream_response(
        client,
        receive,
        chunks,
        headers=[],
        on_disconnect=lambda: events.append("gone"),
        keepalive=KEEPALIVE,
        keepalive_seconds=seconds,
    )


@pytest.mark.parametrize("slow", [False, True])
def test_a_silent_producer_gets_keep_alives_between_whole_frames(slow: bool) -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        client = _Client()
        pinged = asyncio.Event()
        pings = 0
        tasks_during: list[int] = []

        def on_write(body: bytes) -> None:
            nonlocal pings
            pings += body == KEEPALIVE
            if pings == 2:  # two: the timer is armed again after the first
                pinged.set()

        client.on_write = on_write

        async def frames() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"
            client.slow = slow
            tasks_during.append(len(asyncio.all_tasks()))
            await pinged.wait()  # silent until the keep-alives came
            client.slow = False
            yield b"data: 2\n\n"

        events: list[str] = []
        await _stream(client, cycle.receive, frames(), events, 0.001)
        assert client.out[0] == b"data: 1\n\n" and client.out[-1] == b"data: 2\n\n"
        assert set(client.out[1:-1]) == {KEEPALIVE} and len(client.out) >= 4
        assert client.ended and events == []
        assert tasks_during == [1]  # the caller's alone: no pump, watch or keep-alive task

    asyncio.run(main())


def test_a_busy_producer_gets_no_keep_alive() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        client = _Client()

        async def frames() -> AsyncIterator[bytes]:
            for i in range(50):
                await asyncio.sleep(0)
                yield b"data: %d\n\n" % i

        await _stream(client, cycle.receive, frames(), [], 300.0)
        assert KEEPALIVE not in client.out and len(client.out) == 50 and client.ended
        # The timer went with the stream: nothing is left to fire into a finished response.
        assert not [h for h in asyncio.get_running_loop()._scheduled if not h.cancelled()]  # type: ignore[attr-defined]

    asyncio.run(main())


@pytest.mark.parametrize("server", ["bastion", "other"])
def test_a_hang_up_tells_then_cancels_the_producer_and_returns(server: str) -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        client = _Client()
        events: list[str] = []
        started = asyncio.Event()

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b"data: 1\n\n"
                started.set()
                await asyncio.Event().wait()  # an upstream that never answers
                yield b"never"
            except asyncio.CancelledError:
                events.append("cancelled")  # the upstream is closed here
                raise
            finally:
                events.append("closed")

        receive = cycle.receive
        if server == "other":
            gone = asyncio.Event()

            async def receive() -> dict[str, Any]:
                await gone.wait()
                return {"type": "http.disconnect"}

        async def client_leaves() -> None:
            await started.wait()
            if server == "other":
                gone.set()
            else:
                hang_up(cycle)

        leaving = asyncio.ensure_future(client_leaves())
        await _stream(client, receive, frames(), events, 300.0)
        await leaving
        assert events == ["gone", "cancelled", "closed"]
        assert client.out == [b"data: 1\n\n"] and not client.ended
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]
        await asyncio.sleep(0)  # and no cancellation is left to land later

    asyncio.run(main())


def test_a_client_already_gone_stops_the_producer_before_its_first_read() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        hang_up(cycle)
        events: list[str] = []

        async def frames() -> AsyncIterator[bytes]:
            await asyncio.Event().wait()
            yield b"never"

        await _stream(_Client(), cycle.receive, frames(), events, 300.0)
        assert events == ["gone"]
        await asyncio.sleep(0)

    asyncio.run(main())


def test_a_hang_up_during_the_last_write_leaves_no_cancellation_for_the_caller() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        client = _Client()
        events: list[str] = []

        def on_write(body: bytes) -> None:
            if body == b"data: last\n\n":
                hang_up(cycle)  # the connection drops in the very write

        client.on_write = on_write

        async def frames() -> AsyncIterator[bytes]:
            await asyncio.sleep(0)
            yield b"data: last\n\n"  # and the producer ends without another await

        await _stream(client, cycle.receive, frames(), events, 300.0)
        assert events == ["gone"]
        after: list[str] = []
        await asyncio.sleep(0)  # the caller's later work (its log line, its metrics) is not cancelled
        after.append("ran")
        assert after == ["ran"] and not asyncio.current_task().cancelling()  # type: ignore[union-attr]

    asyncio.run(main())


def test_a_hang_up_after_the_end_cancels_nothing() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        client = _Client()
        events: list[str] = []

        async def frames() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"

        await _stream(client, cycle.receive, frames(), events, 300.0)
        hang_up(cycle)
        await asyncio.sleep(0)
        assert events == [] and client.ended
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]

    asyncio.run(main())


def test_an_outside_cancellation_passes_through_after_telling_the_producer() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")
        events: list[str] = []
        started = asyncio.Event()

        async def frames() -> AsyncIterator[bytes]:
            try:
                started.set()
                await asyncio.Event().wait()
                yield b"never"
            finally:
                events.append("closed")

        task = asyncio.ensure_future(_stream(_Client(), cycle.receive, frames(), events, 300.0))
        await started.wait()
        task.cancel()  # a shutdown
        with pytest.raises(asyncio.CancelledError):
            await task
        # The producer learns of it by its own cancellation first (a shutdown aborts the
        # connections before it cancels what is left, so a stream hears of the hang-up before).
        assert events == ["closed", "gone"]
        # A hang-up now reaches no one: the watch went with the stream.
        hang_up(cycle)
        await asyncio.sleep(0)

    asyncio.run(main())


def test_the_producers_error_propagates() -> None:
    async def main() -> None:
        cycle = read_request("/v1/messages")

        async def frames() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"
            raise RuntimeError("bug")

        with pytest.raises(RuntimeError, match="bug"):
            await _stream(_Client(), cycle.receive, frames(), [], 300.0)
        hang_up(cycle)
        await asyncio.sleep(0)
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]

    asyncio.run(main())
