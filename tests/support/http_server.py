"""Bastion's HTTP server on a loopback port in a background thread, serving a small scripted app,
and raw-socket clients that speak (and misspeak) HTTP/1.1 byte by byte.

::

    with ServerThread(header_timeout_seconds=0.2) as server:
        with RawClient(server.port) as client:
            client.send(b"GET /echo HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            status, headers, body = client.response()
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from types import TracebackType
from typing import Any

import uvloop

from bastion.api.asgi import stream_response
from bastion.secrets.scrubber import Scrubber
from bastion.server.server import Server
from bastion.server.sockets import listen
from bastion.settings import ServerSettings

__all__ = ["Observed", "RawClient", "ServerThread", "scripted_app", "wait_all_closed"]


class Observed:
    """What the app saw, for the tests to wait on (thread-safe events and counters)."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()
        self.stream_ended = threading.Event()
        self.started = threading.Event()
        self.lifespan: list[str] = []
        self.bytes_sent = 0
        self.fail_startup = False
        #: What ``/scrubbed-stream`` streams, and the secrets its scrubber removes.
        self.chunks: list[bytes] = []
        self.secrets: list[str] = []


def scripted_app(seen: Observed) -> Any:
    """An ASGI app whose paths each exercise one part of the server."""

    async def read_body(receive: Any) -> bytes:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen.disconnected.set()
                raise ConnectionError("client left")
            body += message.get("body", b"")
            if not message.get("more_body"):
                return body

    async def reply(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
        head = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                seen.lifespan.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if seen.fail_startup:
                        await send({"type": "lifespan.startup.failed", "message": "no database"})
                        return
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/echo":
            try:
                body = await read_body(receive)
            except ConnectionError:
                return
            query = scope["query_string"]
            await reply(send, 200, body, [(b"x-method", scope["method"].encode()), (b"x-query", query)])
        elif path == "/early":
            await reply(send, 413, b"too large")  # without reading the body
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for i in range(3):
                await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/wait-disconnect":
            await read_body(receive)
            seen.started.set()
            message = await receive()  # the client has nothing more to send: this waits for it to leave
            if message["type"] == "http.disconnect":
                seen.disconnected.set()
        elif path == "/firehose":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            chunk = b"x" * 65536
            watch = asyncio.ensure_future(receive())  # as the gateway does: http.disconnect ends it
            for _ in range(2000):  # 128 MiB if nothing held it back
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if watch.done():
                    break
                seen.bytes_sent += len(chunk)
            seen.stream_ended.set()
        elif path == "/slow-stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            seen.started.set()
            gate = asyncio.get_running_loop().create_future()
            seen.release = gate  # type: ignore[attr-defined]
            await gate
            await send({"type": "http.response.body", "body": b"data: last\n\n", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            seen.stream_ended.set()
        elif path == "/scrubbed-stream":
            # The gateway's stream path: the boundary scrubber and stream_response. ``?asgi`` hides
            # the scrubber's and the server's direct chunk path, so every chunk is an ASGI message.
            scrubbed = Scrubber(seen.secrets).wrap(send)
            if scope["query_string"] == b"asgi":

                async def as_messages(message: dict[str, Any]) -> None:
                    await scrubbed(message)

                chosen: Any = as_messages
            else:
                chosen = scrubbed

            async def chunks() -> Any:
                for chunk in seen.chunks:
                    yield chunk

            await stream_response(
                chosen,
                receive,
                chunks(),
                headers=[],
                on_disconnect=seen.disconnected.set,
                keepalive=b": ping\n\n",
                keepalive_seconds=60.0,
            )
        elif path == "/bad-header":
            # A header field holding a line break or (in a name) a colon: never written.
            where = scope["query_string"]
            name, value = (b"x-ok", b"a\r\nx-injected: 1") if where == b"value" else (b"x-in:jected", b"1")
            if where == b"name-lf":
                name = b"x-in\njected"
            await reply(send, 200, b"ok", [(name, value)])
        elif path == "/boom":
            raise RuntimeError("the app broke")
        elif path == "/forgot":
            return  # never answers
        else:
            await reply(send, 404, b"no such path")

    return app


class ServerThread:
    """The server with ``ServerSettings(**limits)`` on a free port, in its own thread and loop."""

    def __init__(self, **limits: Any) -> None:
        self.seen = Observed()
        self.server = Server(scripted_app(self.seen), ServerSettings(**limits))
        self.sock = listen("127.0.0.1", 0)
        self.port: int = self.sock.getsockname()[1]
        self._ready = threading.Event()
        self.exit_code: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(timeout=30)
        return self

    def _run(self) -> None:
        loop = self._loop = uvloop.new_event_loop()
        try:
            self.exit_code = loop.run_until_complete(
                self.server.serve([self.sock], on_ready=self._ready.set, signals=())
            )
        finally:
            self.sock.close()
            loop.close()
            self._ready.set()

    def call_soon(self, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)

    def connections(self) -> int:
        state = self.server.state
        return 0 if state is None else len(state.connections)

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed() and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.server.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RawClient:
    """A TCP client that sends exactly the bytes it is given and parses what comes back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self._buffer += data
        return bool(data)

    def head(self) -> tuple[int, dict[str, str]]:
        """The next response's status and headers."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response head: {self._buffer!r}")
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def response(self, *, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        """The next whole response (content-length, chunked, or up to the close)."""
        status, headers = self.head()
        if head_only or status in (100, 204, 304):
            return status, headers, b""
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line(), 16)
                chunk = self._take(size)
                self._line()
                if size == 0:
                    return status, headers, body
                body += chunk
        while self._fill():
            pass
        body, self._buffer = self._buffer, b""
        return status, headers, body

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if not self._fill():
                raise ConnectionError("closed in the middle of a chunked body")
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise ConnectionError("closed in the middle of a body")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def closed(self) -> bool:
        """Wait until the server closes the connection (True), keeping what it sends (``received``).
        A reset counts as closed; a socket still open after the socket timeout does not."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True

    def closed_while_dribbling(self, data: bytes, pace: float) -> bool:
        """Send ``data`` one byte at a time, a byte every ``pace`` seconds, until the server closes
        the connection (True) or every byte was sent (False). The pace is the attack, not a wait
        for the server: each pause ends as soon as the server says something."""
        for byte in data:
            readable, _, _ = select.select([self.sock], [], [], pace)
            if readable:
                return self.closed()
            try:
                self.sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return True
        return False

    def received(self) -> bytes:
        """Everything read and not yet parsed."""
        return self._buffer

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def wait_all_closed(sockets: list[socket.socket]) -> None:
    """Wait until the server has closed every one of ``sockets`` (read to EOF or reset); fails if
    30 s pass with none of the open ones closing."""
    still_open = set(sockets)
    while still_open:
        readable, _, _ = select.select(list(still_open), [], [], 30)
        assert readable, f"{len(still_open)} connections were never closed"
        for sock in readable:
            try:
                if not sock.recv(65536):
                    still_open.discard(sock)
            except ConnectionResetError:
                still_open.discard(sock)
