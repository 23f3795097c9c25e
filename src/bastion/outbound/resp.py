"""The process's Redis client: commands pipelined on one connection, replies read by hiredis.

Every user of Redis in a gateway process (limits and budgets, revocation markers, the login
throttle, shared deployment health, the response cache) sends its commands through the one
:class:`RespClient` the composition root creates. Every admitted request runs one limits script at
admission and one at completion: redis-py's asyncio client spends about 200 µs of CPU on each
(connection checkout, command packing, response callbacks); here a command is one write of
pre-encoded RESP and one future, and hiredis (the C parser redis-py itself uses) reads the replies,
so the same script costs about a quarter of that. Commands issued by concurrent requests in the
same event-loop turn go out in one write, and replies are matched to callers in order (Redis
answers a connection's commands in order).

Commands only, one reply each: no ``MULTI`` (other callers' commands would land inside the
transaction), no blocking commands on the shared connection; atomic groups are Lua scripts.
Pub/sub has its own connection (:mod:`bastion.outbound.pubsub`).

A connection that fails, or whose command times out, is closed: every command waiting on it fails
with :class:`RespConnectionError`, and the next command opens a new connection (so a restarted
Redis is picked up by the first command after it is back).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

from bastion.tasks import spawn_awaited

__all__ = [
    "Arg",
    "RespClient",
    "RespConnection",
    "RespConnectionError",
    "RespError",
    "RespTarget",
    "encode",
    "open_connection",
]

_CONNECT_TIMEOUT = 5.0
_COMMAND_TIMEOUT = 5.0
Arg = str | int | float | bytes


class RespError(Exception):
    """An error reply from Redis (``NOSCRIPT ...``, ``ERR ...``, ``BUSY ...``)."""


class RespConnectionError(ConnectionError):
    """Redis could not be reached, or the connection broke or timed out before the reply."""


class RespTarget:
    """Where Redis is and how to log in: from a ``redis://``, ``rediss://`` or ``unix://`` URL."""

    __slots__ = ("db", "host", "password", "port", "socket", "tls", "username")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        socket: str | None = None,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password, self.tls = username, password, tls
        #: A Unix socket path (``unix://``), used instead of host and port.
        self.socket = socket

    @classmethod
    def from_url(cls, url: str) -> RespTarget:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            # redis-py's form: unix://[user:password@]/path/to/socket?db=N[&password=...]
            query = parse_qs(parts.query)
            db = query.get("db", ["0"])[0]
            if not db.isdigit():
                raise ValueError(f"the db of a Redis URL is a database number, got {db!r}")
            password = query.get("password", [None])[0]
            if password is None and parts.password:
                password = unquote(parts.password)
            return cls(
                db=int(db),
                username=unquote(parts.username) if parts.username else None,
                password=password,
                socket=parts.path,
            )
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(
                f"a Redis URL starts with redis://, rediss:// or unix://, got {parts.scheme or url!r}://"
            )
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"the path of a Redis URL is a database number, got {path!r}")
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 6379,
            db=int(path or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "rediss",
        )

    def __repr__(self) -> str:  # never the password
        where = self.socket if self.socket is not None else f"{self.host}:{self.port}"
        return f"RespTarget({where}/{self.db})"


def encode(args: tuple[Arg, ...]) -> bytes:
    """One command as a RESP array of bulk strings.

    hiredis packs it in C (a limits script's 25 arguments: about a quarter of the CPU of the
    Python loop below, which gives the same bytes); the loop takes what hiredis refuses (``bool``).
    """
    try:
        return cast(bytes, hiredis.pack_command(args))  # type: ignore[arg-type]  # its stub: 1-tuples
    except TypeError:
        return _encode(args)


def _encode(args: tuple[Arg, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            data = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    """One socket: queued writes flushed once per loop turn, replies handed out in order.

    A reply that no command waits for is a push (pub/sub): it goes to ``on_push``, or, without
    one, it means the stream is out of step and the connection is closed.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        *,
        on_push: Callable[[Any], None] | None = None,
        on_lost: Callable[[RespConnectionError], None] | None = None,
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._answered = 0
        self._on_push = on_push
        self._on_lost = on_lost
        #: Replies and pushes read so far (a pub/sub connection's liveness check reads it).
        self.received = 0
        self.closed = False

    @property
    def load(self) -> int:
        return len(self._waiting)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, payload: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise RespConnectionError("the Redis connection is closed")
        future = self._loop.create_future()
        idle = not self._waiting
        self._waiting.append(future)
        if self._watchdog is None:
            self._arm()
        if idle and not self._out and self._transport is not None:
            # Nothing in flight: send now rather than a loop turn later (the quiet path's latency).
            self._transport.write(payload)
            return future
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(payload)
        return future

    def post(self, payload: bytes) -> None:
        """Write a command whose answer arrives as a push (``SUBSCRIBE``, ``PING`` in pub/sub mode)."""
        if self.closed or self._transport is None:
            raise RespConnectionError("the Redis connection is closed")
        self._transport.write(payload)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and not self.closed:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _arm(self) -> None:
        self._watchdog = self._loop.call_later(self._timeout, self._check, self._answered)

    def _check(self, answered_before: int) -> None:
        # One timer per busy spell rather than one per command: a connection with commands waiting
        # that got no reply for a whole period is dead (or Redis is stuck) either way.
        self._watchdog = None
        if not self._waiting or self.closed:
            return
        if self._answered == answered_before:
            self.abort(RespConnectionError(f"Redis did not answer within {self._timeout:g} s"))
        else:
            self._arm()

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                self.received += 1
                if not self._waiting and self._on_push is not None:
                    self._on_push(reply)
                    continue
                self._answered += 1
                future = self._waiting.popleft()
                if future.done():  # its caller gave up (timeout, cancellation)
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(RespError(str(reply)))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as err:
            self.abort(RespConnectionError(f"unreadable reply from Redis ({type(err).__name__})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RespConnectionError("the Redis connection was lost"))

    def abort(self, error: RespConnectionError) -> None:
        self._fail(error)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, error: RespConnectionError) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._out.clear()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self._on_lost is not None:
            self._on_lost(error)


async def open_connection(
    target: RespTarget,
    *,
    name: str | None = None,
    select: bool = True,
    connect_timeout: float = _CONNECT_TIMEOUT,
    command_timeout: float = _COMMAND_TIMEOUT,
    on_push: Callable[[Any], None] | None = None,
    on_lost: Callable[[RespConnectionError], None] | None = None,
) -> RespConnection:
    """Connect and log in (``AUTH``, ``SELECT`` unless ``select`` is false, ``CLIENT SETNAME``).

    The name is best effort: a Redis that refuses ``CLIENT SETNAME`` (renamed commands, a
    restrictive ACL) still serves the connection. Failures are :class:`RespConnectionError`, and
    never carry the password.
    """
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if target.tls else None
    connection: RespConnection | None = None
    try:
        async with asyncio.timeout(connect_timeout):

            def made() -> RespConnection:
                return RespConnection(loop, command_timeout, on_push=on_push, on_lost=on_lost)

            if target.socket is not None:
                _, connection = await loop.create_unix_connection(made, target.socket)
            else:
                _, connection = await loop.create_connection(made, target.host, target.port, ssl=context)
            for command in _login(target, select=select):
                await connection.send(encode(command))
            if name is not None:
                try:
                    await connection.send(encode(("CLIENT", "SETNAME", name)))
                except RespError:
                    pass
    except (OSError, TimeoutError, RespError, RespConnectionError) as err:
        if connection is not None:
            connection.abort(RespConnectionError("the Redis handshake failed"))
        reason = "timed out" if isinstance(err, TimeoutError) else type(err).__name__
        if isinstance(err, RespError):
            reason = str(err).split(" ", 1)[0]  # WRONGPASS, NOAUTH...: never the password
        raise RespConnectionError(f"could not connect to Redis at {target!r} ({reason})") from None
    except BaseException:  # cancelled mid-handshake (a shutdown): the socket must not outlive it
        if connection is not None:
            connection.abort(RespConnectionError("the Redis handshake was cancelled"))
        raise
    return connection


def _login(target: RespTarget, *, select: bool) -> list[tuple[Arg, ...]]:
    commands: list[tuple[Arg, ...]] = []
    if target.password is not None:
        auth: tuple[Arg, ...] = ("AUTH", target.password)
        commands.append(auth if target.username is None else ("AUTH", target.username, target.password))
    if target.db and select:
        commands.append(("SELECT", target.db))
    return commands


class RespClient:
    """Commands to one Redis over up to ``size`` pipelined connections, opened on first use.

    ``name`` is set on each connection (``CLIENT SETNAME``), so ``CLIENT LIST`` shows whose it is.
    """

    def __init__(
        self,
        target: RespTarget,
        *,
        size: int = 1,
        name: str | None = None,
        connect_timeout: float = _CONNECT_TIMEOUT,
        command_timeout: float = _COMMAND_TIMEOUT,
    ) -> None:
        if size < 1:
            raise ValueError("a Redis client needs at least one connection")
        self.target = target
        self._size = size
        self._name = name
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._connections: list[RespConnection] = []
        self._opening: asyncio.Future[RespConnection] | None = None
        self._closed = False

    async def execute(self, *args: Arg) -> Any:
        """Send one command and return its reply; an error reply raises :class:`RespError`."""
        connection = self._pick() or await self._open()
        return await connection.send(encode(args))

    def _pick(self) -> RespConnection | None:
        best: RespConnection | None = None
        for connection in self._connections:
            if not connection.closed and (best is None or connection.load < best.load):
                best = connection
        if best is None or (best.load and len(self._connections) < self._size):
            return None  # none open, or all busy and room for another
        return best

    async def _open(self) -> RespConnection:
        if self._closed:
            raise RespConnectionError("the Redis client is closed")
        if self._opening is None:
            self._opening = spawn_awaited(
                open_connection(
                    self.target,
                    name=self._name,
                    connect_timeout=self._connect_timeout,
                    command_timeout=self._command_timeout,
                ),
                name="redis-connect",
            )
            self._opening.add_done_callback(self._opened)
        try:
            return await asyncio.shield(self._opening)
        except RespConnectionError:
            live = [c for c in self._connections if not c.closed]
            if live:  # another connection still works: use it rather than fail
                return live[0]
            raise

    def _opened(self, opening: asyncio.Future[RespConnection]) -> None:
        self._opening = None
        self._connections = [c for c in self._connections if not c.closed]
        if opening.cancelled() or opening.exception() is not None:
            return
        if self._closed:  # closed while this one was connecting
            opening.result().abort(RespConnectionError("the Redis client is closed"))
        else:
            self._connections.append(opening.result())

    async def close(self) -> None:
        self._closed = True
        for connection in self._connections:
            connection.abort(RespConnectionError("the Redis client is closed"))
        self._connections = []
