"""A minimal ASGI toolkit: the request, the responses and the disconnect watch.

No framework sits on the hot path: a request is a few attribute reads, a response two ``send``
calls. Handlers stay thin and call one service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import parse_qs

import orjson

from bastion.domain.errors import InvalidRequestError, RequestTooLargeError
from bastion.tasks import spawn_awaited

__all__ = [
    "ClientGone",
    "Receive",
    "Request",
    "Scope",
    "Send",
    "send_bytes",
    "send_json",
    "stream_response",
    "unencodable",
    "unless_client_leaves",
]

T = TypeVar("T")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class Request:
    """One HTTP request. ``params`` are the path template's parameters (``/key/{key}/regenerate``);
    ``caller`` is what the endpoint's audience guard found (a principal, an account, a session)."""

    __slots__ = ("_headers", "_query", "caller", "method", "params", "path", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None
        self.params: Mapping[str, str] = _NO_PARAMS
        self.caller: Any = None

    @property
    def headers(self) -> Mapping[str, str]:
        if self._headers is None:
            self._headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.scope["headers"]}
        return self._headers

    @property
    def query(self) -> Mapping[str, str]:
        if self._query is None:
            raw = self.scope.get("query_string", b"")
            parsed = parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}
            self._query = {k: v[-1] for k, v in parsed.items()}
        return self._query

    async def body(self, limit: int) -> bytes:
        length = self.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                # A body cut short (the client left, or the server's body timeout) is never a request.
                raise InvalidRequestError("The client closed the connection before sending the whole body.")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def json(self, limit: int, *, optional: bool = False) -> dict[str, Any]:
        """The JSON object sent; ``{}`` for an empty (or blank) body when ``optional``."""
        raw = await self.body(limit)
        if not raw or raw.isspace():
            if optional:
                return {}
            raise InvalidRequestError("The request body is empty; send a JSON object.")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequestError(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise InvalidRequestError("The request body must be a JSON object.")
        return data


def unencodable(exc: orjson.JSONEncodeError) -> InvalidRequestError:
    """A body that parsed but cannot be written on (to a provider, a cache key, a record): JSON
    nested deeper than encoders go, or a number they refuse. The client's input, so a 400."""
    return InvalidRequestError(
        "The request body cannot be forwarded: it is nested more than 254 levels deep or holds a "
        f"value JSON encoders refuse ({exc})."
    )


def _too_large(limit: int) -> RequestTooLargeError:
    mb = limit / (1024 * 1024)
    return RequestTooLargeError(
        f"The request body is larger than this gateway's limit of {mb:g} MB "
        "(bastion_settings.max_request_size_mb)."
    )


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, data: Any, *, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send_bytes(send, status, orjson.dumps(data), headers=headers)


async def stream_response(
    send: Send,
    receive: Receive,
    chunks: AsyncIterator[bytes],
    *,
    headers: list[tuple[bytes, bytes]],
    on_disconnect: Callable[[], None],
    keepalive: bytes,
    keepalive_seconds: float,
    write_through: Callable[[Callable[[bytes], Awaitable[None] | None]], None] | None = None,
) -> None:
    """Send an SSE response; if the client goes away first, stop the producer and say so.

    While the producer is silent for ``keepalive_seconds`` (a model thinking, a tool running), the
    ``keepalive`` bytes are sent so clients with a chunk timeout do not give up. A keep-alive is a
    whole SSE comment or blank line, so it can never split a frame.

    ``write_through``, when given, is handed the writer the producer may also use directly, outside
    its iteration (a pass-through relay writing from the upstream's read callback): it writes a
    chunk and returns ``None``, or returns what to await before the chunk is written.
    """
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
    loop = asyncio.get_running_loop()
    last_sent = loop.time()

    # The boundary scrubber's send takes a chunk without a message (and hands it on the same way
    # to Bastion's own server): no dict and no coroutine per token when nothing has to wait.
    body_chunk: Callable[[bytes], Awaitable[None] | None] = getattr(send, "body_chunk", None) or (
        lambda body: send({"type": "http.response.body", "body": body, "more_body": True})
    )

    if write_through is not None:

        def write(chunk: bytes) -> Awaitable[None] | None:
            nonlocal last_sent
            last_sent = loop.time()
            return body_chunk(chunk)

        write_through(write)

    async def pump() -> None:
        nonlocal last_sent
        keeper = spawn_awaited(keep_alive(), name="stream-keepalive")
        try:
            async for chunk in chunks:
                waiting = body_chunk(chunk)
                if waiting is not None:
                    await waiting
                last_sent = loop.time()
            keeper.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            keeper.cancel()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def keep_alive() -> None:
        nonlocal last_sent
        while True:
            idle = loop.time() - last_sent
            if idle < keepalive_seconds:
                await asyncio.sleep(keepalive_seconds - idle)
                continue
            waiting = body_chunk(keepalive)
            if waiting is not None:
                await waiting
            last_sent = loop.time()

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    pump_task = spawn_awaited(pump(), name="stream-pump")
    watch_task = spawn_awaited(watch(), name="stream-watch")
    try:
        await asyncio.wait((pump_task, watch_task), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not pump_task.done():
            on_disconnect()
            pump_task.cancel()
        watch_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump_task
        with contextlib.suppress(asyncio.CancelledError):
            await watch_task


class ClientGone(Exception):
    """The client closed its connection before the answer was ready; the work was cancelled."""


async def unless_client_leaves(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` (a non-streamed answer); if the client hangs up first, cancel it (which
    closes the upstream connection) and raise :class:`ClientGone`.

    ``work`` runs in the caller's own task, not a task of its own: the caller writes the answer in
    the same turn of the event loop in which ``work`` returns, before anything ``work`` left for
    later runs (the limits settlement, the log line and the metrics; see
    :mod:`bastion.accounting.recorder`). A separate task would hand its result back a turn later,
    after those. The watch cancels the caller's task instead, and only its own cancellation
    becomes :class:`ClientGone` (a server's cancellation, a shutdown, passes through)."""
    caller = asyncio.current_task()
    assert caller is not None, "unless_client_leaves runs in a task"
    gone = False

    def hang_up() -> None:
        nonlocal gone
        gone = True
        caller.cancel()

    # Bastion's own server tells of a hang-up by a callback; any other server through a task
    # that waits on ``receive``.
    watching = getattr(getattr(receive, "__self__", None), "on_disconnect", None)
    unwatch: Callable[[], Any] | None = watching(hang_up) if watching is not None else None
    if unwatch is None:
        unwatch = spawn_awaited(_disconnected(receive, hang_up), name="disconnect-watch").cancel
    try:
        out = await work
    except asyncio.CancelledError:
        if gone and caller.uncancel() == 0:  # cancelled by the watch alone
            raise ClientGone from None
        raise
    finally:
        unwatch()
    if gone:  # the work finished in spite of the cancellation: the client is gone all the same
        caller.uncancel()
        raise ClientGone
    return out


async def _disconnected(receive: Receive, hang_up: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    hang_up()
