"""CPU per streamed token through the gateway's stream path, in one process, with no sockets.

``python -m bench.relay_cpu [--streams N] [--tokens N] [--rounds N]`` runs ``N`` concurrent
pass-through streams (OpenAI in and out, as ``make bench``'s ``stream-*`` scenarios) through the
real parts: the upstream client connection (``outbound/_http11.py``, fed the mock's chunked SSE
bytes), :class:`~bastion.gateway.relay.PassthroughRelay` with the OpenAI sniffer, the boundary
scrubber, :func:`~bastion.api.asgi.stream_response` and Bastion's HTTP server protocol writing to a
fake transport. Each token is handed to every stream's upstream connection at once, then the
harness waits until every client transport got it, like ``c`` streams whose tokens arrive
together. It prints the CPU (``time.process_time``) per token per stream, best of the rounds:
repeatable on a busy machine where wall-clock benchmarks are not (compare old and new code with
the same arguments, alternating). The request's own work (admission, the record, the log line)
is not part of it: the finisher only marks the call recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

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

__all__ = ["main", "run_streams", "upstream_body"]

_SECRETS = ("sk-upstream-bench", "sk-bench-master-0123456789")
_BASE = (
    b'{"id":"chatcmpl-0123456789","object":"chat.completion.chunk","created":1765000000,'
    b'"model":"gpt-4o-mini","usage":null,'
)
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_REQUEST = b"POST /s/%d HTTP/1.1\r\nhost: bench\r\ncontent-length: 2\r\n\r\n{}"
_LIMITS = Limits(
    header_timeout=30.0,
    body_timeout=30.0,
    body_min_rate=1024.0,
    keepalive_timeout=30.0,
    send_timeout=30.0,
    max_header_bytes=65536,
    max_connections=10_000,
)


def _frame(choices: bytes, usage: bytes = b"") -> bytes:
    return b"data: " + _BASE + b'"choices":' + choices + usage + b"}\n\n"


def upstream_body(tokens: int) -> tuple[bytes, list[bytes], list[bytes]]:
    """The mock's stream as SSE frames: the role frame, ``tokens`` content frames, and the tail
    (finish, usage, ``[DONE]``)."""
    first = _frame(b'[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')
    middle = [
        _frame(b'[{"index":0,"delta":{"content":" tok%d"},"finish_reason":null}]' % i) for i in range(tokens)
    ]
    usage = b',"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}' % (tokens, tokens + 12)
    tail = [
        _frame(b'[{"index":0,"delta":{},"finish_reason":"stop"}]'),
        b"data: " + _BASE.replace(b'"usage":null,', b"") + b'"choices":[]' + usage + b"}\n\n",
        b"data: [DONE]\n\n",
    ]
    return first, middle, tail


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class _Tally:
    """Counts writes to the client transports; wakes the harness when enough arrived."""

    def __init__(self) -> None:
        self.writes = 0
        self.target = 0
        self.waiter: asyncio.Future[None] | None = None

    def wrote(self) -> None:
        self.writes += 1
        waiter = self.waiter
        if waiter is not None and self.writes >= self.target and not waiter.done():
            waiter.set_result(None)

    async def until(self, target: int) -> None:
        self.target = target
        if self.writes < target:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


class _ClientTransport:
    def __init__(self, tally: _Tally, keep: bool) -> None:
        self._tally = tally
        self.out = bytearray() if keep else None
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.out is not None:
            self.out += data
        self._tally.wrote()

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


class _UpstreamTransport(_ClientTransport):
    def write(self, data: bytes) -> None:
        self._tally.wrote()


async def run_streams(
    streams: int, tokens: int, *, keep: bool = False, upstream_chunks: list[list[bytes]] | None = None
) -> tuple[float, list[bytes]]:
    """Run ``streams`` streams; return the CPU seconds spent on the content tokens and, with
    ``keep``, what each client received (raw HTTP). ``upstream_chunks`` replaces the mock's
    frames: every stream is fed those pieces, one per round, as they are (any split)."""
    loop = asyncio.get_running_loop()
    scrubber = Scrubber(_SECRETS)
    upstream_tally, client_tally = _Tally(), _Tally()
    origin = Origin("http://mock.invalid:9")
    uplinks: list[Connection] = []
    for _ in range(streams):
        conn = Connection(origin)
        conn.connection_made(_UpstreamTransport(upstream_tally, False))  # type: ignore[arg-type]
        uplinks.append(conn)

    def finish(ctx: CallContext, *, status: int = 200, error: Any = None) -> None:
        ctx.recorded = True
        ctx.record.status = status

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        send = scrubber.wrap(send)
        conn = uplinks[int(scope["path"].rsplit("/", 1)[1])]
        await receive()
        response = await conn.request("/v1/chat/completions", {"content-type": "application/json"}, b"{}")
        upstream = UpstreamStream(response, 60.0)
        chunks = upstream.chunks()
        splitter = FrameSplitter()
        first: list[bytes] = []
        while not first:
            first = splitter.feed(await chunks.__anext__())
        record = UsageRecord("req_bench", "openai", "bench", True, time.time())
        ctx = CallContext("req_bench", OPENAI, Principal("master", "master", ""), {}, record)
        relay = PassthroughRelay(
            ctx, upstream, chunks, splitter, first, OpenAISniffer(strip_usage_chunk=False), finish, lambda: 1
        )
        await stream_response(
            send,
            receive,
            relay.run(),
            headers=[],
            on_disconnect=relay.client_gone,
            keepalive=OPENAI.keepalive,
            keepalive_seconds=15.0,
            write_through=relay.write_through,
        )

    state = ServerState(app=app, limits=_LIMITS)
    clients: list[_ClientTransport] = []
    for i in range(streams):
        server = HttpProtocol(state, loop)
        transport = _ClientTransport(client_tally, keep)
        server.connection_made(transport)  # type: ignore[arg-type]
        server.data_received(_REQUEST % i)
        clients.append(transport)
    await upstream_tally.until(streams)  # every request went upstream

    first, middle, tail = upstream_body(tokens)
    if upstream_chunks is None:
        pieces = [[_HEAD + _chunk(first)]] + [[_chunk(f)] for f in middle]
        tail_pieces = [[_chunk(f)] for f in tail] + [[b"0\r\n\r\n"]]
        token_rounds = range(1, len(pieces))
    else:
        pieces = [[_HEAD + upstream_chunks[0][0]], *upstream_chunks[1:]]
        tail_pieces = []
        token_rounds = range(1, len(pieces))
    for data in pieces[0]:
        for conn in uplinks:
            conn.data_received(data)
    await client_tally.until(streams * 2 if upstream_chunks is None else streams)  # head, first frame
    cpu = time.process_time()
    for round_ in token_rounds:
        before = client_tally.writes
        for data in pieces[round_]:
            for conn in uplinks:
                conn.data_received(data)
        if upstream_chunks is None:
            await client_tally.until(before + streams)
        else:
            for _ in range(8):  # a piece may complete no frame: nothing to wait for
                await asyncio.sleep(0)
    cpu = time.process_time() - cpu
    for round_pieces in tail_pieces:
        for data in round_pieces:
            for conn in uplinks:
                conn.data_received(data)
    while state.tasks:
        await asyncio.wait(list(state.tasks))
    return cpu, [bytes(c.out or b"") for c in clients]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_cpu", description=__doc__)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=10, help="runs per round (their CPU is summed)")
    args = parser.parse_args(argv)
    best = float("inf")
    for _ in range(args.rounds):
        spent = 0.0
        for _ in range(args.repeat):
            spent += uvloop.run(run_streams(args.streams, args.tokens))[0]
        best = min(best, spent / (args.repeat * args.streams * args.tokens))
    per_token = f"{best * 1e6:.2f} us CPU per token"
    print(f"streams={args.streams} tokens={args.tokens}: {per_token} (best of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
