"""Bastion's HTTP/1.1 server: listens, serves an ASGI app, stops gracefully.

::

    server = Server(app, ServerSettings())
    exit_code = await server.serve([sock])     # until stop() or SIGINT/SIGTERM

Start-up runs the app's lifespan before the first connection is accepted. ``stop()`` (or a
signal) stops accepting, closes idle connections, lets requests and streams in progress finish for
up to ``shutdown_timeout_seconds``, then disconnects what is left (the app sees ``http.disconnect``)
and runs the lifespan shutdown. A second SIGINT skips the wait.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
from collections.abc import Callable, Sequence
from typing import Any

from bastion import tasks
from bastion.server._lifespan import Lifespan
from bastion.server._protocol import HttpProtocol
from bastion.server._state import App, Limits, ServerState, log
from bastion.settings import ServerSettings

__all__ = ["Server", "limits_from"]

#: How long tasks of requests disconnected at the shutdown deadline get to record what they did.
_AFTER_DEADLINE = 5.0


def limits_from(settings: ServerSettings) -> Limits:
    """The limits the protocol uses, in seconds and bytes; ``max_connections`` defaults to half the
    file-descriptor limit (raised to its hard limit first), at most 10,000."""
    cap = settings.max_connections
    if cap is None:
        cap = min(10_000, max(16, _raise_fd_limit() // 2))
    return Limits(
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        body_min_rate=settings.body_min_rate_kib * 1024.0,
        keepalive_timeout=settings.keepalive_timeout_seconds,
        send_timeout=settings.send_timeout_seconds,
        max_header_bytes=settings.max_header_kib * 1024,
        max_connections=cap,
    )


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Server:
    """Serves ``app`` on given sockets until stopped."""

    def __init__(self, app: App, settings: ServerSettings, *, limits: Limits | None = None) -> None:
        self._app = app
        self._settings = settings
        self._limits = limits or limits_from(settings)
        self._stop: asyncio.Event | None = None
        self._force: asyncio.Event | None = None
        self.state: ServerState | None = None
        self.started = False

    def stop(self) -> None:
        """Begin a graceful shutdown (thread-unsafe: call it on the server's loop)."""
        if self._stop is not None:
            if self._stop.is_set() and self._force is not None:
                self._force.set()
            self._stop.set()

    async def serve(
        self,
        sockets: Sequence[socket.socket],
        *,
        on_ready: Callable[[], None] | None = None,
        signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
    ) -> int:
        """Serve until stopped (``stop()`` or one of ``signals``; a second one skips the wait for
        requests in progress); 0 after a clean stop, 3 when the app failed to start."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        try:
            return await self._serve(loop, sockets, on_ready)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: Sequence[socket.socket],
        on_ready: Callable[[], None] | None,
    ) -> int:
        assert self._stop is not None and self._force is not None
        lifespan = Lifespan(self._app)
        failure = await lifespan.startup()
        if failure is not None:
            log.error("start-up failed: %s", failure)
            return 3
        state = self.state = ServerState(self._app, self._limits)
        servers = [
            await loop.create_server(lambda: HttpProtocol(state, loop), sock=sock, backlog=2048)
            for sock in sockets
        ]
        for sock in sockets:
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            log.info("accepting connections on http://%s:%d", shown, port)
        self.started = True
        if on_ready is not None:
            on_ready()
        await self._stop.wait()
        log.info("shutting down: finishing %d requests in progress", len(state.tasks))
        for server in servers:
            server.close()
        await self._drain(state)
        await lifespan.shutdown()
        log.info("shutdown complete")
        return 0

    async def _drain(self, state: ServerState) -> None:
        assert self._force is not None
        state.draining = True
        state.drained = asyncio.Event()
        for connection in list(state.connections):
            connection.shutdown()
        waits: list[asyncio.Future[Any]] = [tasks.spawn_awaited(self._force.wait(), name="shutdown-force")]
        if state.connections or state.tasks:
            everything = tasks.spawn_awaited(_all_done(state), name="shutdown-drain")
            waits.append(everything)
            await asyncio.wait(
                waits, timeout=self._settings.shutdown_timeout_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        for waiting in waits:
            waiting.cancel()
        if state.connections:
            log.warning(
                "disconnecting %d connections still open at the shutdown deadline", len(state.connections)
            )
            for connection in list(state.connections):
                connection.shutdown()
                connection.abort()
        if state.tasks:
            _done, left = await asyncio.wait(set(state.tasks), timeout=_AFTER_DEADLINE)
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left)


async def _all_done(state: ServerState) -> None:
    """Until every connection is closed and every request's task has ended."""
    assert state.drained is not None
    if state.connections:
        await state.drained.wait()
    while state.tasks:
        await asyncio.wait(set(state.tasks))
