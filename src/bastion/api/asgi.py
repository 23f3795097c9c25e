"""A minimal ASGI toolkit: the request, the responses and the disconnect watch.

No framework sits on the hot path: a request is a few attribute reads, a response two ``send``
calls. Handlers stay thin and call one service.
"""

from __future__ import annotations

import asyncio
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

    The producer runs in the caller's own task. The keep-alive is one timer, re-armed from the
    time of the last write when it fires; the hang-up watch is the server's disconnect callback
    where it has one (a task reading ``receive`` otherwise). On a hang-up ``on_disconnect`` is
    called first, then the producer is cancelled (which closes the upstream), and this returns
    normally. Any other cancellation passes through; ``on_disconnect`` is called too, after the
    producer's own clean-up (a server's shutdown aborts the connections first, so a stream hears
    of the hang-up before).
    """
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})
    loop = asyncio.get_running_loop()
    caller = asyncio.current_task()
    assert caller is not None, "stream_response runs in a task"
    last_sent = loop.time()
    gone = False  # the client hung up: the producer is being cancelled
    over = False  # the response is complete, or being abandoned

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

    # The keep-alive: a timer armed for ``keepalive_seconds`` after the last write, which looks
    # at ``last_sent`` when it fires (writes do not touch the timer). A keep-alive that has to
    # wait for a slow client is finished by a task, after which the timer is armed again.
    timer: asyncio.TimerHandle | None = None
    waiting_task: asyncio.Task[None] | None = None

    def keep_alive() -> None:
        nonlocal timer, last_sent, waiting_task
        timer = None
        if over:
            return
        due = last_sent + keepalive_seconds
        if loop.time() < due:
            timer = loop.call_at(due, keep_alive)
            return
        waiting = body_chunk(keepalive)
        if waiting is None:
            last_sent = loop.time()
            timer = loop.call_at(last_sent + keepalive_seconds, keep_alive)
        else:
            waiting_task = spawn_awaited(slow_keep_alive(waiting), name="stream-keepalive")

    async def slow_keep_alive(waiting: Awaitable[None]) -> None:
        nonlocal last_sent, timer
        await waiting
        last_sent = loop.time()
        if not over:
            timer = loop.call_at(last_sent + keepalive_seconds, keep_alive)

    def hang_up() -> None:
        nonlocal gone
        if gone or over:
            return
        gone = True
        on_disconnect()
        caller.cancel()

    unwatch: Callable[[], Any] | None = None
    try:
        timer = loop.call_at(last_sent + keepalive_seconds, keep_alive)
        unwatch = _watch_hang_up(receive, hang_up)
        async for chunk in chunks:
            waiting = body_chunk(chunk)
            if waiting is not None:
                await waiting
            last_sent = loop.time()
        over = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not gone:  # cancelled from outside (a shutdown): the producer stops all the same
            over = True
            on_disconnect()
            raise
        if caller.uncancel() != 0:  # cancelled from outside as well
            raise
    finally:
        over = True
        if timer is not None:
            timer.cancel()
        if waiting_task is not None:
            waiting_task.cancel()
        if unwatch is not None:
            unwatch()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    if gone and caller.cancelling():
        # The hang-up came after the producer's last await: its cancellation has not landed yet
        # and must not land in the caller's later work.
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if caller.uncancel() != 0:
                raise
        else:  # the producer caught the cancellation itself
            caller.uncancel()


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

    unwatch = _watch_hang_up(receive, hang_up)
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


def _watch_hang_up(receive: Receive, hang_up: Callable[[], None]) -> Callable[[], Any]:
    """Call ``hang_up`` once if the client disconnects; returns what stops the watch. Bastion's
    own server tells of a hang-up by a callback (``RequestCycle.on_disconnect``); any other
    server, or a request whose body is not read whole, through a task that waits on ``receive``."""
    watching = getattr(getattr(receive, "__self__", None), "on_disconnect", None)
    unwatch: Callable[[], Any] | None = watching(hang_up) if watching is not None else None
    if unwatch is None:
        unwatch = spawn_awaited(_disconnected(receive, hang_up), name="disconnect-watch").cancel
    return unwatch


async def _disconnected(receive: Receive, hang_up: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    hang_up()
