"""A pass-through stream's frames written from the upstream's read callback (no task wake per
token) reach the client exactly as through the relay's task: same bytes in the same order, however
the upstream splits them, with a client that stops reading in the middle, and the call recorded
once, before its last frame is written. Real parts (the upstream client connection, the relay, the
boundary scrubber, Bastion's HTTP server) on fake transports: no sockets, no clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvloop

from bastion.accounting.records import UsageRecord
from bastion.api.asgi import Receive, Scope, Send, stream_response
from bastion.domain.principal import Principal
from bastion.gateway.context import CallContext
from bastion.gateway.relay import PassthroughRelay
from bastion.outbound._http11 import Connection, Origin
from bastion.outbound.http import UpstreamStream
from bastion.protocols.openai.wire import OPENAI
from bastion.protocols.sse import FrameSplitter
from bastion.providers.openai import OpenAISniffer
from bastion.secrets.scrubber import Scrubber
from bastion.server._protocol import HttpProtocol
from bastion.server._state import Limits, ServerState

SECRET = "sk-upstream-0123456789abcdef"
_LIMITS = Limits(
    header_timeout=30.0,
    body_timeout=30.0,
    body_min_rate=1024.0,
    keepalive_timeout=30.0,
    send_timeout=30.0,
    max_header_bytes=65536,
    max_connections=10,
)
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _frame(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def sse_frames(tokens: int) -> list[bytes]:
    """An OpenAI stream: role, ``tokens`` content frames (one with a secret in it), finish, usage,
    ``[DONE]``."""
    frames = [_frame(b'{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}')]
    for i in range(tokens):
        text = b" tok%d" % i if i != 3 else b" key " + SECRET.encode()
        frames.append(_frame(b'{"choices":[{"index":0,"delta":{"content":"%b"}}],"usage":null}' % text))
    frames.append(_frame(b'{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}'))
    usage = b'{"prompt_tokens":7,"completion_tokens":%d,"total_tokens":%d}' % (tokens, tokens + 7)
    frames.append(_frame(b'{"choices":[],"usage":' + usage + b"}"))
    frames.append(_frame(b"[DONE]"))
    return frames


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


class _Transport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.writes = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data
        self.writes += 1

    def writelines(self, parts: list[bytes]) -> None:
        self.write(b"".join(parts))

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Rig:
    """One client connection to Bastion's server whose app relays one upstream connection."""

    def __init__(self, through: bool) -> None:
        self.through = through
        self.upstream_transport = _Transport()
        self.upstream = Connection(Origin("http://mock.invalid:9"))
        self.upstream.connection_made(self.upstream_transport)  # type: ignore[arg-type]
        self.client = _Transport()
        #: Each record: (status, whether the client had the last frame by then, the record).
        self.finished: list[tuple[int, bool, UsageRecord]] = []
        self.relay: PassthroughRelay | None = None
        self.server = HttpProtocol(ServerState(app=self._app, limits=_LIMITS), asyncio.get_running_loop())
        self.server.connection_made(self.client)  # type: ignore[arg-type]

    def _finish(self, ctx: CallContext, *, status: int = 200, error: Any = None) -> None:
        ctx.recorded = True
        self.finished.append((status, b"[DONE]" in self.client.out, ctx.record))

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = Scrubber((SECRET,)).wrap(send)
        await receive()
        response = await self.upstream.request("/v1/chat/completions", {}, b"{}")
        upstream = UpstreamStream(response, 60.0)
        chunks = upstream.chunks()
        splitter = FrameSplitter()
        first: list[bytes] = []
        while not first:
            first = splitter.feed(await chunks.__anext__())
        record = UsageRecord("req_test", "openai", "test", True, time.time())
        ctx = CallContext("req_test", OPENAI, Principal("master", "master", ""), {}, record)
        self.relay = relay = PassthroughRelay(
            ctx,
            upstream,
            chunks,
            splitter,
            first,
            OpenAISniffer(strip_usage_chunk=False),
            self._finish,
            lambda: 5,
        )
        await stream_response(
            send,
            receive,
            relay.run(),
            headers=[],
            on_disconnect=relay.client_gone,
            keepalive=OPENAI.keepalive,
            keepalive_seconds=300.0,
            write_through=relay.write_through if self.through else None,
        )

    async def start(self) -> None:
        self.server.data_received(b"POST /s HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\n{}")
        await turns()
        assert self.upstream_transport.writes == 1  # the request went upstream

    async def feed(self, data: bytes) -> None:
        self.upstream.data_received(data)
        await turns()

    def body(self) -> bytes:
        """The client's response body, de-chunked."""
        head, _, rest = bytes(self.client.out).partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head
        body = bytearray()
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            body += rest[:n]
            rest = rest[n + 2 :]
        return bytes(body)


async def turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _expected(frames: list[bytes]) -> bytes:
    return b"".join(frames).replace(SECRET.encode(), b"[REDACTED]")


def _run(coro: Any) -> Any:
    return uvloop.run(coro)


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_any_split_of_the_upstream_gives_the_same_bytes_and_one_record(size: int) -> None:
    frames = sse_frames(30)
    raw = _HEAD + chunked(frames)

    async def relayed(through: bool) -> tuple[bytes, list[tuple[int, bool, UsageRecord]], int]:
        rig = Rig(through)
        await rig.start()
        for at in range(0, len(raw), size):
            await rig.feed(raw[at : at + size])
        await turns()
        return rig.body(), rig.finished, rig.client.writes

    direct, direct_finished, _ = _run(relayed(True))
    tasked, tasked_finished, _ = _run(relayed(False))
    assert direct == tasked == _expected(frames)
    for finished in (direct_finished, tasked_finished):
        assert len(finished) == 1
        status, done_sent, record = finished[0]
        assert status == 200 and not record.usage_estimated
        assert not done_sent  # recorded before the last frame was written
        assert (record.usage.input_tokens, record.usage.output_tokens) == (7, 30)
        assert record.ttft_ms is not None


@pytest.mark.parametrize("through", [True, False])
def test_a_client_that_stops_reading_gets_every_frame_in_order_once_it_reads_again(through: bool) -> None:
    frames = sse_frames(40)

    async def scenario() -> tuple[bytes, list[tuple[int, bool, UsageRecord]], int, int]:
        rig = Rig(through)
        await rig.start()
        await rig.feed(_HEAD + b"%x\r\n%b\r\n" % (len(frames[0]), frames[0]))
        for frame in frames[1:5]:
            await rig.feed(b"%x\r\n%b\r\n" % (len(frame), frame))
        rig.server.pause_writing()  # the client's socket buffer is full
        paused_at = rig.client.writes
        for frame in frames[5:25]:
            await rig.feed(b"%x\r\n%b\r\n" % (len(frame), frame))
        held = rig.client.writes - paused_at
        rig.server.resume_writing()
        await turns()
        for frame in frames[25:]:
            await rig.feed(b"%x\r\n%b\r\n" % (len(frame), frame))
        await rig.feed(b"0\r\n\r\n")
        return rig.body(), rig.finished, held, rig.client.writes

    body, finished, held, _ = _run(scenario())
    assert held == 0  # nothing written while the client was not reading
    assert body == _expected(frames)
    assert len(finished) == 1 and finished[0][2].usage.output_tokens == 40


@pytest.mark.parametrize("through", [True, False])
def test_a_client_that_hangs_up_stops_the_frames_and_the_upstream_call(through: bool) -> None:
    frames = sse_frames(40)

    async def scenario() -> tuple[Rig, int]:
        rig = Rig(through)
        await rig.start()
        await rig.feed(_HEAD + chunked(frames[:10])[:-5])
        rig.server.connection_lost(None)  # the client hangs up
        await turns()
        written = len(rig.client.out)
        rig.upstream.data_received(chunked(frames[10:20])[:-5])  # already on its way upstream
        await turns()
        assert len(rig.client.out) == written
        return rig, written

    rig, _ = _run(scenario())
    assert rig.upstream_transport.closed  # the upstream generation is cut off
    assert len(rig.finished) == 1
    _, _, record = rig.finished[0]
    assert record.client_disconnected and record.usage_estimated
    assert record.usage.output_tokens == 10  # the content frames (the role's too) before the hang-up


def test_a_kept_upstream_connection_forgets_the_finished_stream() -> None:
    """The upstream connection goes back to its pool when the stream ends; the next exchange on it
    is read as usual, never offered to the finished stream's relay."""
    frames = sse_frames(3)

    async def scenario() -> tuple[bytes, bytes, bytes]:
        rig = Rig(True)
        await rig.start()
        await rig.feed(_HEAD + chunked(frames))
        await turns()
        first = bytes(rig.client.out)
        assert rig.upstream.usable
        response = asyncio.ensure_future(rig.upstream.request("/v1/models", {}, b"", method="GET"))
        await turns()
        body = _frame(b'{"data":[1,2]}')
        await rig.feed(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body))
        answer = await (await response).read()
        return first, bytes(rig.client.out), answer

    first, after, answer = _run(scenario())
    assert first == after
    assert answer == _frame(b'{"data":[1,2]}')
