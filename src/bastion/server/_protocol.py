"""One HTTP/1.1 connection: parsing with httptools, timeouts, limits, pipelining, flow control.

A connection is always in one phase, and each phase but ``_BUSY`` has a deadline:

- ``_HEADERS``: from connecting, or from a request's first byte, to the end of its headers
  (``header_timeout``); a partial request gets 408, an empty connection is just closed.
- ``_BODY``: the request body, allowed ``body_timeout`` plus one second per ``body_min_rate``
  bytes received (a dribbler is cut off, a large upload is not); 408. No deadline while the
  server itself stopped reading because the app has not taken the body yet.
- ``_BUSY``: the request is in; the app works on it. No deadline: the app's own timeouts rule.
- ``_IDLE``: between requests on a keep-alive connection (``keepalive_timeout``); closed quietly.
- ``_LINGER``: the response went out before the request body came in; the rest of the body is
  read and dropped for at most ``header_timeout``, then the connection is closed.

One timer per connection checks the deadline lazily: it is only moved when a phase needs an
earlier deadline than the one it is set for, so a busy keep-alive connection costs no timer calls
per request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import unquote

import httptools

from bastion import tasks
from bastion.server._cycle import RequestCycle
from bastion.server._state import ServerState, log
from bastion.server._wire import plain_response

__all__ = ["HttpProtocol"]

_HEADERS, _BODY, _BUSY, _IDLE, _LINGER = range(5)
#: Request body bytes held for an app that has not read them before the socket stops being read.
_BODY_HIGH_WATER = 256 * 1024
#: Response bytes gathered before they are written even within one turn of the loop: past it, the
#: transport's own high-water mark (and so ``send`` waiting for the client) takes over.
_OUT_HIGH_WATER = 64 * 1024
#: Buffered pieces up to this size in all are joined into one write; past it, ``writelines``.
_JOIN_LIMIT = 16 * 1024
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_BUSY_RESPONSE = plain_response(503, "This server has too many open connections; try again shortly.")


class _StopParsing(Exception):
    """Raised from a parser callback once the connection is closed: ignore the rest of the bytes."""


class _RequestError(Exception):
    """Raised from a parser callback: answer ``status`` with ``message`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpProtocol(asyncio.Protocol):
    """The server side of one TCP connection."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._state = state
        self._limits = state.limits
        self._parser: Any = httptools.HttpRequestParser(self)
        self._transport: Any = None
        self._server_addr: tuple[str, int] | None = None
        self._client_addr: tuple[str, int] | None = None
        self._closed = False
        # The request being parsed.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._head_raw = 0
        self._expect_continue = False
        self._begun = False
        #: The request the parser is filling; the one the app runs; pipelined ones waiting.
        self._cycle: RequestCycle | None = None
        self._active: RequestCycle | None = None
        self._queue: deque[RequestCycle] = deque()
        # Deadlines.
        self._phase = _HEADERS
        self._since = 0.0
        self._now = 0.0
        self._body_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # Flow control.
        self._reading_paused = False
        self.writing_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_pending = False
        self._written_at = -1.0

    # ------------------------------------------------------------------ connection events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        state = self._state
        if state.draining or len(state.connections) >= self._limits.max_connections:
            # Turned away before any parsing: one write and a close.
            self._closed = True
            state.refused += 1
            transport.write(_BUSY_RESPONSE)  # type: ignore[attr-defined]
            transport.close()
            return
        state.connections.add(self)
        local = transport.get_extra_info("sockname")
        peer = transport.get_extra_info("peername")
        # ASGI wants (host, port); IPv6 addresses come with flow info and scope id too.
        self._server_addr = (local[0], local[1]) if isinstance(local, tuple) else None
        self._client_addr = (peer[0], peer[1]) if isinstance(peer, tuple) else None
        self._since = self._now = self.loop.time()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed and self._parser is None:
            return
        self._closed = True
        self._state.forget(self)
        for cycle in (self._active, self._cycle, *self._queue):
            if cycle is not None and not cycle.complete:
                cycle.disconnected = True
                cycle.wake()
        self._queue.clear()
        self._wake_drain()
        self._parser = None

    def eof_received(self) -> bool | None:
        return None  # the client closed its side: treat it as gone (an ASGI http.disconnect)

    def data_received(self, data: bytes) -> None:
        self._now = self.loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _RequestError):
                self._refuse(cause.status, cause.message)
                return
            if isinstance(cause, _StopParsing):
                return
            raise
        except httptools.HttpParserUpgrade:
            # No protocol upgrades here: answer the request, then close.
            if self._cycle is not None:
                self._cycle.keep_alive = False
            self._pause_reading()
        except httptools.HttpParserError as exc:
            log.debug("invalid HTTP request: %s", exc)
            self._refuse(400, "Invalid HTTP request.")
            return
        if self._phase == _HEADERS and self._begun:
            self._head_raw += len(data)
            if self._head_raw > self._limits.max_header_bytes:
                self._refuse(431, "The request's headers are too large.")
                return
        self._arm()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._head_raw = 0
        self._expect_continue = False
        self._begun = True
        self._phase = _HEADERS
        self._since = self._now

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._header_bytes > self._limits.max_header_bytes:
            raise _RequestError(431, "The request's headers are too large.")
        parser = self._parser
        url = self._url
        if url[:1] == b"/" and b"#" not in url:
            raw_path, _, query = url.partition(b"?")
        else:
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _RequestError(400, "Invalid request target.") from None
            raw_path = parsed.path or b"/"
            query = parsed.query or b""
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            raise _RequestError(400, "Invalid request target.") from None
        if "%" in path:
            path = unquote(path)
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": parser.get_http_version(),
            "server": self._server_addr,
            "client": self._client_addr,
            "scheme": "http",
            "method": parser.get_method().decode("ascii"),
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
        }
        cycle = RequestCycle(
            self,
            scope,
            keep_alive=parser.should_keep_alive() and not self._state.draining,
            expect_continue=self._expect_continue,
        )
        self._cycle = cycle
        self._begun = False
        self._phase = _BODY
        self._since = self._now
        self._body_bytes = 0
        if self._active is None:
            self._start(cycle)
        else:
            self._queue.append(cycle)
            self._pause_reading()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        cycle = self._cycle
        if cycle is None or cycle.complete or cycle.disconnected:
            return  # answered already (or given up on): the rest is dropped
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > _BODY_HIGH_WATER:
            self._pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self._cycle
        if cycle is not None:
            cycle.more_body = False
            cycle.wake()
        if self._phase == _LINGER:
            self._close()
            raise _StopParsing  # whatever follows in this read is for a connection now closed
        self._phase = _BUSY

    # ------------------------------------------------------------------ running the app

    def _start(self, cycle: RequestCycle) -> None:
        self._active = cycle
        # A child of the loop's task supervisor (listed by it, cancelled by its close); the server
        # awaits it, at shutdown with a deadline, and _run answers 500 for whatever it raises.
        task = tasks.spawn_awaited(self._run(cycle), name="request")
        running = self._state.tasks
        running.add(task)
        task.add_done_callback(running.discard)

    async def _run(self, cycle: RequestCycle) -> None:
        try:
            await self._state.app(cycle.scope, cycle.receive, cycle.send)
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception:
            log.exception("the app failed on %s %s", cycle.scope["method"], cycle.scope["path"])
            if cycle.started or cycle.disconnected:
                self.abort()
            else:
                cycle.disconnected = True
                self._refuse(500, "Internal Server Error", answering=cycle)
            return
        if not cycle.complete and not cycle.disconnected:
            log.error("the app ended without completing its response to %s", cycle.scope["path"])
            if cycle.started:
                self.abort()
            else:
                cycle.disconnected = True
                self._refuse(500, "Internal Server Error", answering=cycle)

    def response_complete(self, cycle: RequestCycle) -> None:
        """Called by ``send`` when the response's last byte is buffered."""
        self._flush()
        if self._closed:
            return
        self._active = None
        if cycle.more_body:
            if cycle.expect_continue and not self._body_bytes:
                self._close()  # the client waits for a 100 Continue that will never come
                return
            # Answered before the body came in (an early error): drop the rest of it, then close.
            self._phase = _LINGER
            self._since = self.loop.time()
            self._arm()
            self._resume_reading()
            return
        if not cycle.keep_alive or self._state.draining:
            self._close()
            return
        if self._queue:
            self._start(self._queue.popleft())
            self._resume_reading()
            return
        if self._phase == _BUSY:
            self._phase = _IDLE
            self._since = self.loop.time()
            self._arm()

    def body_consumed(self, cycle: RequestCycle) -> None:
        """The app took the body received so far: read more of it."""
        if self._reading_paused and cycle is self._cycle and not self._queue:
            if self._phase == _BODY:
                self._since = self.loop.time()  # the client was not the slow one
                self._body_bytes = 0
            self._resume_reading()

    # ------------------------------------------------------------------ writing

    def buffer(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size > _OUT_HIGH_WATER:
            self._flush()

    def buffer_chunk(self, size: bytes, data: bytes, end: bytes) -> None:
        self._out += (size, data, end)
        self._out_size += len(data)
        if self._out_size > _OUT_HIGH_WATER:
            self._flush()

    def buffer_soon(self, data: bytes) -> None:
        """``buffer(data)`` then ``flush_soon()``; the common case of a stream's frame, the first
        write of this turn with nothing else buffered, goes straight to the transport."""
        if not self._out and not self._flush_pending:
            now = self.loop.time()
            if now != self._written_at:
                self._written_at = now
                if not self._closed:
                    self._transport.write(data)
                return
        self.buffer(data)
        self.flush_soon()

    def flush_soon(self) -> None:
        """Write what is buffered now, or at the end of this turn of the event loop if something
        was already written in it: a stream's frames arriving one per turn go straight out, a
        burst of frames in one turn (one upstream read) leaves in one write, and nothing waits
        longer than the turn. (uvloop's clock reads the same all through a turn.)"""
        if self._flush_pending:
            return
        now = self.loop.time()
        if now != self._written_at:
            self._written_at = now
            self._flush()
            return
        self._flush_pending = True
        self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        out = self._out
        if out and not self._closed:
            size = self._out_size
            self._out = []
            self._out_size = 0
            if len(out) == 1:
                self._transport.write(out[0])
            elif size <= _JOIN_LIMIT:
                self._transport.write(b"".join(out))  # a head and a small body: one copy, one write
            else:
                self._transport.writelines(out)

    def write_now(self, data: bytes) -> None:
        self._out.append(data)
        self._flush()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drain()

    async def drain(self) -> None:
        """Wait until the client has read enough of what was written; give up on a client that
        reads nothing for ``send_timeout`` (it is disconnected)."""
        if self._drain is None:
            self._drain = self.loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._drain), self._limits.send_timeout)
        except TimeoutError:
            log.info("closing a connection whose client read nothing for %.0f s", self._limits.send_timeout)
            self.abort()

    def _wake_drain(self) -> None:
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    # ------------------------------------------------------------------ reading

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._closed:
            self._reading_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._closed:
            self._reading_paused = False
            self._transport.resume_reading()

    # ------------------------------------------------------------------ deadlines

    def _deadline(self) -> float | None:
        phase = self._phase
        limits = self._limits
        if phase == _BUSY:
            return None
        if phase in (_HEADERS, _LINGER):
            return self._since + limits.header_timeout
        if phase == _IDLE:
            return self._since + limits.keepalive_timeout
        if self._reading_paused:
            return None  # the server stopped reading, not the client
        return self._since + limits.body_timeout + self._body_bytes / limits.body_min_rate

    def _arm(self) -> None:
        deadline = self._deadline()
        if deadline is None or self._closed:
            return
        if self._timer is not None:
            if self._timer_at <= deadline:
                return  # it fires first and looks again
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if deadline is None or self._closed:
            return
        if self.loop.time() + 0.001 < deadline:
            self._arm()
            return
        phase = self._phase
        if phase == _HEADERS and self._begun:
            log.info("closing a connection that sent no complete request headers in time")
            self._refuse(408, "The request's headers took too long to arrive.")
        elif phase == _BODY:
            log.info("closing a connection whose request body was too slow")
            self._refuse(408, "The request body took too long to arrive.")
        else:
            self._close()

    # ------------------------------------------------------------------ ending

    def shutdown(self) -> None:
        """The server is stopping: close now if no request is being answered, else after it."""
        if self._active is None and not self._queue:
            self._close()
            return
        for cycle in (self._active, *self._queue):
            if cycle is not None:
                cycle.keep_alive = False

    def _refuse(self, status: int, message: str, *, answering: RequestCycle | None = None) -> None:
        """Answer ``status`` ourselves and close, unless another response is under way (then only
        close: an answer cannot be put in the middle of another one)."""
        active = self._active
        if active is not None and active is not answering and (active is not self._cycle or active.started):
            self.abort()
            return
        if active is not None:
            active.disconnected = True  # the app's answer, if it comes, is dropped
            active.wake()
        if not self._closed:
            self._out = []
            self.write_now(plain_response(status, message))
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._flush()
            self._closed = True
            self._transport.close()
            if self._parser is not None:
                self.connection_lost(None)

    def abort(self) -> None:
        """Close at once, dropping anything not yet written."""
        if not self._closed:
            self._closed = True
            self._transport.abort()
            if self._parser is not None:
                self.connection_lost(None)
