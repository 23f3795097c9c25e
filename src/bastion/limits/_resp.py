"""A lean Redis client for the limits' hot path: commands pipelined on a few connections.

Every admitted request runs one script at admission and one at completion. redis-py's asyncio
client spends about 200 µs of CPU on each (connection checkout, command packing, response
callbacks); here a command is one write of pre-encoded RESP and one future, and hiredis (the C
parser redis-py itself uses) reads the replies, so the same script costs about a quarter of that.
Commands issued by concurrent requests in the same event-loop turn go out in one write, and
replies are matched to callers in order (Redis answers a connection's commands in order).

Only what the limits scripts need: ``EVALSHA``/``SCRIPT LOAD`` and plain commands with bulk
replies. Pub/sub and administration stay on redis-py, which is not on the request path.

A connection that fails, or whose command times out, is closed: every command waiting on it fails
with :class:`RespConnectionError`, and the next command opens a new connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

from bastion.tasks import spawn_awaited

__all__ = ["RespClient", "RespConnectionError", "RespError", "RespTarget"]

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
    """One command as a RESP array of bulk strings."""
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


class _Connection(asyncio.Protocol):
    """One socket: queued writes flushed once per loop turn, replies handed out in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._answered = 0
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
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._out.clear()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class RespClient:
    """Commands to one Redis over up to ``size`` pipelined connections, opened on first use."""

    def __init__(
        self,
        target: RespTarget,
        *,
        size: int = 1,
        connect_timeout: float = _CONNECT_TIMEOUT,
        command_timeout: float = _COMMAND_TIMEOUT,
    ) -> None:
        if size < 1:
            raise ValueError("a Redis client needs at least one connection")
        self._target = target
        self._size = size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._connections: list[_Connection] = []
        self._opening: asyncio.Future[_Connection] | None = None
        self._closed = False

    async def execute(self, *args: Arg) -> Any:
        """Send one command and return its reply; an error reply raises :class:`RespError`."""
        connection = self._pick() or await self._open()
        return await connection.send(encode(args))

    def _pick(self) -> _Connection | None:
        best: _Connection | None = None
        for connection in self._connections:
            if not connection.closed and (best is None or connection.load < best.load):
                best = connection
        if best is None or (best.load and len(self._connections) < self._size):
            return None  # none open, or all busy and room for another
        return best

    async def _open(self) -> _Connection:
        if self._closed:
            raise RespConnectionError("the Redis client is closed")
        if self._opening is None:
            self._opening = spawn_awaited(self._connect(), name="redis-connect")
            self._opening.add_done_callback(self._opened)
        try:
            return await asyncio.shield(self._opening)
        except RespConnectionError:
            live = [c for c in self._connections if not c.closed]
            if live:  # another connection still works: use it rather than fail
                return live[0]
            raise

    def _opened(self, opening: asyncio.Future[_Connection]) -> None:
        self._opening = None
        self._connections = [c for c in self._connections if not c.closed]
        if opening.cancelled() or opening.exception() is not None:
            return
        if self._closed:  # closed while this one was connecting
            opening.result().abort(RespConnectionError("the Redis client is closed"))
        else:
            self._connections.append(opening.result())

    async def _connect(self) -> _Connection:
        target = self._target
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if target.tls else None
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                made = lambda: _Connection(loop, self._command_timeout)  # noqa: E731
                if target.socket is not None:
                    _, connection = await loop.create_unix_connection(made, target.socket)
                else:
                    _, connection = await loop.create_connection(made, target.host, target.port, ssl=context)
                for command in self._handshake():
                    await connection.send(encode(command))
        except (OSError, TimeoutError, RespError) as err:
            if connection is not None:
                connection.abort(RespConnectionError("the Redis handshake failed"))
            reason = "timed out" if isinstance(err, TimeoutError) else type(err).__name__
            if isinstance(err, RespError):
                reason = str(err).split(" ", 1)[0]  # WRONGPASS, NOAUTH...: never the password
            raise RespConnectionError(f"could not connect to Redis at {target!r} ({reason})") from None
        return connection

    def _handshake(self) -> list[tuple[Arg, ...]]:
        target = self._target
        commands: list[tuple[Arg, ...]] = []
        if target.password is not None:
            auth: tuple[Arg, ...] = ("AUTH", target.password)
            commands.append(auth if target.username is None else ("AUTH", target.username, target.password))
        if target.db:
            commands.append(("SELECT", target.db))
        return commands

    async def close(self) -> None:
        self._closed = True
        for connection in self._connections:
            connection.abort(RespConnectionError("the Redis client is closed"))
        self._connections = []
