"""A TCP proxy a test can cut and restore: a database that goes away mid-load and comes back.

::

    with TcpProxy(5432) as proxy:      # listens on 127.0.0.1:proxy.port, forwards to :5432
        proxy.cut()                    # every open connection reset, new ones refused
        proxy.restore()                # listening again on the same port

It runs its own event loop in a background thread, so the code under test (in another thread or
process) sees a real network peer disappear.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

__all__ = ["TcpProxy"]

_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_port: int, *, host: str = "127.0.0.1") -> None:
        self._host = host
        self._target = target_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open = False
        self._writers: set[asyncio.StreamWriter] = set()
        #: Connections accepted so far (to show the traffic really went through the proxy).
        self.accepted = 0

    def start(self) -> None:
        self._thread.start()
        self._run(self._listen())

    def cut(self) -> None:
        """Stop listening and reset every open connection, like a database host that vanished."""
        self._run(self._cut())

    def restore(self) -> None:
        """Listen again on the same port."""
        self._run(self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._open = True

    async def _cut(self) -> None:
        self._open = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # RST, not a polite FIN: the peer learns nothing in advance
        self._writers.clear()

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(client_out)
        try:
            upstream_in, upstream_out = await asyncio.open_connection(self._host, self._target)
        except OSError:
            client_out.transport.abort()
            self._writers.discard(client_out)
            return
        self._writers.add(upstream_out)
        if not self._open:  # cut while this connection was being set up
            client_out.transport.abort()
            upstream_out.transport.abort()
            return
        await asyncio.gather(
            _pump(client_in, upstream_out), _pump(upstream_in, client_out), return_exceptions=True
        )
        self._writers.discard(client_out)
        self._writers.discard(upstream_out)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()
    finally:
        sink.close()
