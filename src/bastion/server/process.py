"""One serving process: serve on a listening socket, on uvloop, until a signal."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
from collections.abc import Callable

import uvloop

from bastion.server._state import App
from bastion.server.server import Server
from bastion.server.supervisor import report_ready
from bastion.settings import ServerSettings

__all__ = ["serve_process"]


def serve_process(
    app: App,
    settings: ServerSettings,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None] | None = None,
    parent_fd: int | None = None,
    ready_fd: int | None = None,
) -> int:
    """Serve ``app`` on the listening ``sock`` until SIGTERM/SIGINT; the exit code. ``on_ready``
    runs once the app has started and the socket accepts connections.

    A worker of ``--workers N`` (its socket bound with SO_REUSEPORT) watches ``parent_fd``, the
    read end of a pipe its supervisor holds open: when the supervisor dies, even by SIGKILL, the
    worker stops gracefully instead of living on. Once started, it says so on ``ready_fd``.
    """
    server = Server(app, settings)
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
    if parent_fd is not None:
        # Ctrl+C reaches every process of the terminal's group; the supervisor turns it into the
        # SIGTERM a worker obeys, so the worker's own SIGINT would count twice (and force a stop).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signals = (signal.SIGTERM,)

    def ready() -> None:
        _collect_from_now_on()
        if ready_fd is not None:
            report_ready(ready_fd)
        if on_ready is not None:
            on_ready()

    async def main() -> int:
        if parent_fd is not None:
            loop = asyncio.get_running_loop()

            def orphaned() -> None:  # the pipe's end is readable (EOF) from now on: once is enough
                loop.remove_reader(parent_fd)
                server.stop()

            loop.add_reader(parent_fd, orphaned)
        return await server.serve([sock], on_ready=ready, signals=signals)

    try:
        return uvloop.run(main())
    finally:
        sock.close()
        if parent_fd is not None:
            os.close(parent_fd)


def _collect_from_now_on() -> None:
    """The cycle collector on again (``bastion serve`` turned it off for its start-up), with what
    start-up made set aside for good (``gc.freeze``): those objects live as long as the process,
    and no collection walks them again. The few cycles start-up left as garbage (a few hundred
    objects) stay; a full collection to find them would cost as much as it saved."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
