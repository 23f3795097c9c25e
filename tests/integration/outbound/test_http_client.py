"""The outbound HTTP client against raw HTTP servers on loopback that answer exactly as scripted."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from bastion.domain.errors import UpstreamConnectionError, UpstreamTimeoutError
from bastion.outbound.http import HttpPool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


async def serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """A server that counts its connections and lets ``handler`` speak raw HTTP on each."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/x", connections


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_keeps_connections_alive() -> None:
    """Sequential calls to one origin reuse one connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        pool = HttpPool()
        for _ in range(3):
            assert (await pool.post(url, b"{}", {}, timeout=5))[2] == b"ok"
        assert len(connections) == 1
        await pool.close()
        server.close()

    run(main())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil-close", b"until-close"),
        (
            b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n"
            % len(gzip.compress(b"zipped"))
            + gzip.compress(b"zipped"),
            b"zipped",
        ),
    ],
    ids=["chunked", "close-delimited", "gzip"],
)
def test_body_framings(raw: bytes, expected: bytes) -> None:
    """Chunked, close-delimited and gzip bodies are read whole."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()

    async def main() -> None:
        server, url, _ = await serve(handler)
        pool = HttpPool()
        status, _, body = await pool.post(url, b"{}", {}, timeout=5)
        assert (status, body) == (200, expected)
        server.close()

    run(main())


def test_stale_kept_connection_is_replaced() -> None:
    """A server that silently drops a kept connection costs nothing: the call goes out again, fresh."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await read_request(reader)  # the next call on this kept connection is dropped unanswered,
        # as when a server's keep-alive timer closes the connection just as the call goes out

    async def main() -> None:
        server, url, connections = await serve(handler)
        pool = HttpPool()
        await pool.post(url, b"{}", {}, timeout=5)
        assert (await pool.post(url, b"{}", {}, timeout=5))[2] == b"ok"
        assert len(connections) == 2
        server.close()

    run(main())


def test_connection_dropped_mid_body_is_an_error() -> None:
    """A body cut short is a connection error, never a silently short answer."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()

    async def main() -> None:
        server, url, _ = await serve(handler)
        with pytest.raises(UpstreamConnectionError):
            await HttpPool().post(url, b"{}", {}, timeout=5)
        server.close()

    run(main())


def test_stream_idle_timeout() -> None:
    """A stream that goes quiet longer than the idle timeout fails with a timeout error."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await reader.read()  # hold the connection open, silent, until the client leaves

    async def main() -> None:
        server, url, _ = await serve(handler)
        stream = await HttpPool().open_stream(url, b"{}", {}, first_byte_timeout=5, idle_timeout=0.2)
        chunks = stream.chunks()
        assert await chunks.__anext__() == b"first"
        with pytest.raises(UpstreamTimeoutError):
            await chunks.__anext__()
        stream.close()
        server.close()

    run(main())


def test_unreachable_upstream_and_header_injection() -> None:
    """A closed port is a clear connection error; a header value with a line break is never sent."""

    async def main() -> None:
        server, url, connections = await serve(lambda r, w: read_request(r))  # type: ignore[arg-type,return-value]
        with pytest.raises(UpstreamConnectionError, match="line break"):
            await HttpPool().post(url, b"{}", {"x-evil": "a\r\nx-injected: 1"}, timeout=5)
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamConnectionError, match="Could not connect"):
            await HttpPool().post(url, b"{}", {}, timeout=5)
        del connections

    run(main())


def test_get_sends_no_body_and_shares_the_kept_connection_with_post() -> None:
    """A GET carries no body and no content-length; the same kept connection then serves a POST."""
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        pool = HttpPool()
        assert await pool.get(url + "?a=1", {"accept": "application/json"}, timeout=5) == (
            200,
            {"content-length": "2"},
            b"ok",
        )
        assert (await pool.post(url, b"{}", {}, timeout=5))[2] == b"ok"
        assert len(connections) == 1
        server.close()

    run(main())
    assert seen[0].startswith(b"GET /v1/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"content-length" not in seen[0].lower() and seen[0].endswith(b"accept: application/json\r\n\r\n")
    assert seen[1].startswith(b"POST /v1/x HTTP/1.1") and seen[1].endswith(b"content-length: 2\r\n\r\n{}")


def _redirecting(location: bytes, *, status: int = 302) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if head.startswith(b"GET /final"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal")
            else:
                writer.write(
                    b"HTTP/1.1 %d Moved\r\nlocation: %s\r\ncontent-length: 0\r\n\r\n" % (status, location)
                )
            await writer.drain()

    return handler


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_get_follows_redirects_when_asked(status: int) -> None:
    async def main() -> None:
        server, url, _ = await serve(_redirecting(b"/final", status=status))
        pool = HttpPool()
        assert await pool.get(url, {}, timeout=5, redirects=3) == (200, {"content-length": "5"}, b"final")
        moved = await pool.get(url, {}, timeout=5)  # not asked: the redirect is the answer
        assert (moved[0], moved[1]["location"]) == (status, "/final")
        server.close()

    run(main())


def test_redirects_are_bounded() -> None:
    """A redirect loop ends after the allowed hops, with the last redirect as the answer."""

    async def main() -> None:
        server, url, _ = await serve(_redirecting(b"/v1/again"))
        status, headers, _ = await HttpPool().get(url, {}, timeout=5, redirects=3)
        assert (status, headers["location"]) == (302, "/v1/again")
        server.close()

    run(main())


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2048\r\n\r\n" + b"x" * 2048,
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"400\r\n"
        + b"x" * 1024
        + b"\r\n" * 1
        + b"400\r\n"
        + b"y" * 1024
        + b"\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + b"z" * 2048,
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n"
        % len(gzip.compress(b"0" * 10**7))
        + gzip.compress(b"0" * 10**7),
    ],
    ids=["content-length", "chunked", "close-delimited", "gzip-bomb"],
)
def test_an_answer_over_the_size_limit_is_refused(raw: bytes) -> None:
    """Past ``max_bytes`` (counted after decompression) the answer is an error and the connection
    is closed; within it, the same answer reads whole."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()

    async def main() -> None:
        server, url, _ = await serve(handler)
        with pytest.raises(UpstreamConnectionError, match="larger than 1024 bytes"):
            await HttpPool().get(url, {}, timeout=5, max_bytes=1024)
        assert len((await HttpPool().post(url, b"{}", {}, timeout=5, max_bytes=10**8))[2]) >= 2048
        server.close()

    run(main())


def test_head_and_unknown_methods_are_refused() -> None:
    async def main() -> None:
        for method in ("HEAD", "CONNECT", "post"):
            with pytest.raises(ValueError, match="unsupported HTTP method"):
                await HttpPool().request(method, "http://127.0.0.1:9/", headers={}, timeout=1)

    run(main())


def test_a_too_large_answer_on_a_kept_connection_is_not_asked_again() -> None:
    """Refusing an answer is not a dropped connection: the request is not sent a second time."""
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            requests.append(await read_request(reader))
            if len(requests) == 1:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n" + b"x" * 4096)
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        pool = HttpPool()
        await pool.get(url, {}, timeout=5)
        with pytest.raises(UpstreamConnectionError, match="larger than 1024 bytes"):
            await pool.get(url, {}, timeout=5, max_bytes=1024)
        assert (len(requests), len(connections)) == (2, 1)
        server.close()

    run(main())
