"""A call on a kept connection is bounded by the connection's own deadline: the answer must come
whole within the call's timeout (else UpstreamTimeoutError and the connection is closed), and the
calls of a busy connection, one after another, arm no timer each."""

from __future__ import annotations

import asyncio

import pytest

from bastion.domain.errors import UpstreamTimeoutError
from bastion.outbound.http import HttpPool

_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def _upstream(answers: int) -> tuple[asyncio.Server, str, asyncio.Event]:
    """Answers the first ``answers`` requests on a connection at once, then never; sets the event
    when the client closes a connection."""
    closed = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            if served >= answers:
                await reader.read()  # hold the call until the client gives up
                closed.set()
                writer.close()
                return
            served += 1
            writer.write(_ANSWER)
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/chat/completions", closed


def test_calls_on_a_kept_connection_arm_no_timer_each() -> None:
    async def main() -> None:
        server, url, _ = await _upstream(answers=50)
        loop = asyncio.get_running_loop()
        armed: list[float] = []
        call_at = loop.call_at

        def counting(when: float, *args: object, **kwargs: object) -> asyncio.TimerHandle:
            armed.append(when)
            return call_at(when, *args, **kwargs)  # type: ignore[arg-type]

        pool = HttpPool()
        await pool.post(url, b"{}", {"content-type": "application/json"}, timeout=60)  # opens the connection
        loop.call_at = counting  # type: ignore[method-assign]
        try:
            for _ in range(20):
                status, _, data = await pool.post(
                    url, b"{}", {"content-type": "application/json"}, timeout=60
                )
                assert status == 200 and data == b"{}"
        finally:
            loop.call_at = call_at  # type: ignore[method-assign]
        assert len(armed) <= 1  # one deadline timer for the connection, not one per call
        await pool.close()
        server.close()

    asyncio.run(main())


def test_a_kept_connection_that_stops_answering_times_out_and_is_closed() -> None:
    async def main() -> None:
        server, url, closed = await _upstream(answers=1)
        pool = HttpPool()
        await pool.post(url, b"{}", {}, timeout=60)  # the connection is kept after this answer
        with pytest.raises(UpstreamTimeoutError, match=r"did not answer within 0\.2 s"):
            await pool.post(url, b"{}", {}, timeout=0.2)
        await asyncio.wait_for(closed.wait(), 30)  # the gateway hung up on the upstream
        await pool.close()
        server.close()

    asyncio.run(main())


def test_a_later_shorter_timeout_still_holds() -> None:
    """A connection whose timer was set for a long call still enforces a short one after it."""

    async def main() -> None:
        server, url, closed = await _upstream(answers=1)
        pool = HttpPool()
        await pool.post(url, b"{}", {}, timeout=600)
        with pytest.raises(UpstreamTimeoutError, match=r"within 0\.1 s"):
            await pool.post(url, b"{}", {}, timeout=0.1)
        await asyncio.wait_for(closed.wait(), 30)
        await pool.close()
        server.close()

    asyncio.run(main())
