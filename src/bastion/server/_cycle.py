"""One request and its response: the ASGI ``receive`` and ``send`` of a single HTTP/1.1 exchange.

``send`` frames the response (content-length or chunked, nothing for HEAD) into the connection's
output buffer; what a handler sends within one turn of the event loop reaches the socket as one
write (small pieces joined, large bodies passed to ``writelines`` without a copy). A client that
stops reading makes ``send`` wait (the transport's high-water mark), so a stream is never
buffered whole for it.

:meth:`RequestCycle.body_chunk` is ``send`` for a stream's next chunk without the ASGI message:
the boundary scrubber (``secrets/scrubber.py``) finds it on the ``send`` it wraps and streams
through it, which saves a message and two coroutines per streamed token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bastion.server._wire import STATUS_LINES

if TYPE_CHECKING:
    from bastion.server._protocol import HttpProtocol

__all__ = ["RequestCycle"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_CRLF = b"\r\n"
_NO_BODY_STATUSES = frozenset({204, 304})
#: Bytes no response header value (``_BREAKS``) or name (``_BAD``) may hold.
_BREAKS = b"\r\n"
_BAD = b"\r\n:"
#: Bodies up to this size are copied into one buffer with their framing (a copy of a few KiB costs
#: less than writing several buffers); larger ones are written as they are, without a copy.
_COPY_LIMIT = 16 * 1024


def _nothing() -> None:
    pass


class RequestCycle:
    """The ASGI side of one request: the body as it arrives, the response as it is sent."""

    __slots__ = (
        "_conn",
        "_final_sent",
        "_gone",
        "_remaining",
        "_waiter",
        "buffered",
        "chunked",
        "chunks",
        "complete",
        "disconnected",
        "expect_continue",
        "head",
        "http11",
        "keep_alive",
        "more_body",
        "scope",
        "started",
    )

    def __init__(
        self,
        conn: HttpProtocol,
        scope: dict[str, Any],
        *,
        keep_alive: bool,
        expect_continue: bool,
    ) -> None:
        self._conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.head = scope["method"] == "HEAD"
        self.http11 = scope["http_version"] == "1.1"
        #: Body bytes received and not yet handed to the app.
        self.chunks: list[bytes] = []
        self.buffered = 0
        #: Whether more of the request body is still to come from the client.
        self.more_body = True
        self._final_sent = False
        self.disconnected = False
        self.started = False
        self.complete = False
        self.chunked = False
        self._remaining: int | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._gone: Callable[[], None] | None = None

    def wake(self) -> None:
        """Something ``receive`` waits for happened: body bytes, the body's end, or a disconnect."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self.disconnected and self._gone is not None:
            gone, self._gone = self._gone, None
            gone()

    def on_disconnect(self, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``callback`` once if the client disconnects before the response is complete: what
        a task waiting on ``receive`` for ``http.disconnect`` would learn, without the task (two
        steps and a future per request). Returns what stops the watch; None when the request body
        has not been read whole (``receive`` must be read for the rest: watch it that way)."""
        if self.more_body or self.chunks or self.complete:
            return None
        if self.disconnected:
            callback()
            return _nothing
        self._gone = callback
        return self._forget_gone

    def _forget_gone(self) -> None:
        self._gone = None

    # ------------------------------------------------------------------ ASGI receive

    async def receive(self) -> dict[str, Any]:
        conn = self._conn
        if self.expect_continue:
            self.expect_continue = False
            if self.more_body and not self.started and not self.disconnected:
                conn.write_now(_CONTINUE)
        while True:
            if self.disconnected or self.complete:
                return {"type": "http.disconnect"}
            if self.chunks or (not self.more_body and not self._final_sent):
                chunks = self.chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.chunks = []
                self.buffered = 0
                if self.more_body:
                    conn.body_consumed(self)
                else:
                    self._final_sent = True
                return {"type": "http.request", "body": body, "more_body": self.more_body}
            if self.more_body:
                conn.body_consumed(self)
            waiter = self._waiter = conn.loop.create_future()
            await waiter

    # ------------------------------------------------------------------ ASGI send

    async def send(self, message: dict[str, Any]) -> None:
        conn = self._conn
        if conn.writing_paused and not self.disconnected:
            await conn.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
            self._start(message["status"], message.get("headers") or ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"expected 'http.response.body', got {kind!r}")
        if self.complete:
            raise RuntimeError("the response is already complete")
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self.head:
            pass
        elif self.chunked:
            if len(body) > _COPY_LIMIT:
                conn.buffer_chunk(b"%x\r\n" % len(body), body, _CRLF)
            elif body:  # an SSE frame: framing it in one small bytes is cheaper than a writev of three
                conn.buffer(b"%x\r\n%b\r\n" % (len(body), body))
            if not more:
                conn.buffer(_LAST_CHUNK)
        elif body:
            if self._remaining is not None:
                self._remaining -= len(body)
                if self._remaining < 0:
                    raise RuntimeError("the response body is longer than its content-length")
            conn.buffer(body)
        if more:
            conn.flush_soon()
            return
        if self._remaining and not self.head:
            raise RuntimeError("the response body is shorter than its content-length")
        self.complete = True
        self.wake()
        conn.response_complete(self)

    def body_chunk(self, body: bytes) -> Awaitable[None] | None:
        """``send`` of ``{"type": "http.response.body", "body": body, "more_body": True}``, at once
        for a chunked response under way (a stream's next frames); returns what to await first
        when it cannot (the client reads slowly, or the response is not a running stream: then the
        message goes through ``send``, its checks included)."""
        conn = self._conn
        if not self.chunked or self.complete or (conn.writing_paused and not self.disconnected):
            return self.send({"type": "http.response.body", "body": body, "more_body": True})
        if self.disconnected or not body:
            return None
        if len(body) > _COPY_LIMIT:
            conn.buffer_chunk(b"%x\r\n" % len(body), body, _CRLF)
            conn.flush_soon()
        else:
            conn.buffer_soon(b"%x\r\n%b\r\n" % (len(body), body))
        return None

    def _start(self, status: int, headers: Any) -> None:
        self.started = True
        if self.more_body:
            # Answered before the whole body came in: the rest is dropped and the connection closed.
            self.keep_alive = False
        head = [STATUS_LINES[status]]
        has_close = False
        for name, value in headers:
            # One deleting pass per field rather than five ``in`` checks: on CPython 3.11 each
            # ``bytes in bytes`` first tries its needle as an integer (raising and clearing an error).
            clean = len(value.translate(None, _BREAKS)) == len(value)
            if not clean or len(name.translate(None, _BAD)) < len(name):
                raise RuntimeError(f"invalid response header {name!r}")
            lowered = name.lower()
            if lowered == b"content-length":
                self._remaining = int(value)
            elif lowered == b"transfer-encoding":
                continue  # framing is the server's job
            elif lowered == b"connection" and b"close" in value.lower():
                self.keep_alive = False
                has_close = True
            head += (name, b": ", value, _CRLF)
        if self._remaining is None and not self.head and status >= 200 and status not in _NO_BODY_STATUSES:
            if self.http11:
                self.chunked = True
                head.append(b"transfer-encoding: chunked\r\n")
            else:
                self.keep_alive = False  # HTTP/1.0: the body ends when the connection does
        if not self.keep_alive and not has_close:
            head.append(b"connection: close\r\n")
        head.append(_CRLF)
        conn = self._conn
        conn.buffer(b"".join(head))
        if self._remaining is None:
            conn.flush_soon()  # a stream: its head must not wait for the first frame
        # else the body follows (and is written with the head): the head alone is of no use
