"""Run a real Bastion gateway on a loopback port inside a test, in a background thread.

::

    with RunningGateway(settings) as gw:
        OpenAI(base_url=gw.url + "/v1", api_key=...).chat.completions.create(...)
        gw.log_lines()   # every JSON log line the gateway wrote (already redacted)

``start()`` returns once the server accepts connections (it waits on the server's start-up, never
on a sleep). The server is Bastion's own (:mod:`bastion.server`), with the limits of the settings.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

import orjson
import uvloop

from bastion.accounting.records import UsageRecord
from bastion.api.server import GatewayApp
from bastion.app import build_app
from bastion.observability.logging import configure_logging, shutdown_logging
from bastion.observability.metrics import Metrics
from bastion.server.server import Server
from bastion.server.sockets import listen
from bastion.settings import Settings
from bastion.settings.secret_values import secret_values

__all__ = ["LogCapture", "RunningGateway"]

T = TypeVar("T")


class LogCapture:
    """A file-like sink that keeps every line written to it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        return None

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


class RunningGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.logs = LogCapture()
        self._metrics = Metrics()
        #: Every finished request's usage record, as the gateway recorded it (thread-safe queue).
        self.records: queue.Queue[UsageRecord] = queue.Queue()
        self.app: GatewayApp | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        configure_logging(
            level="info", json_logs=True, secrets=secret_values(self.settings), stream=self.logs
        )
        self.app = build_app(self.settings, metrics=self._metrics, record_sinks=[self.records.put])
        sock = listen("127.0.0.1", 0)
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        self._server = Server(self.app, self.settings.bastion.server)
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready), name="bastion-gateway", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._failure is not None or not self._server.started:
            self._thread.join()
            raise RuntimeError("the gateway failed to start") from self._failure

    @property
    def metrics(self) -> Metrics:
        """The gateway's metrics, with every request answered so far counted (the recorder
        counts, and logs, one turn of the event loop after the answer)."""
        self._catch_up()
        return self._metrics

    def _catch_up(self) -> None:
        """Let the gateway's loop run what answered requests left for its next turn."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        if threading.current_thread() is self._thread:
            return
        self.call(asyncio.sleep(0))

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the gateway's own event loop and return its result (store, limits)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def settle(self) -> None:
        """Wait until every finished request's rate limits and budget are settled and every
        answer being stored in the response cache is stored."""
        assert self.app is not None
        if self.app.gatekeeper is not None:
            self.call(self.app.gatekeeper.settled())
        if self.app.cache is not None:
            self.call(self.app.cache.settled())

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._server is not None
        loop = self._loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve([sock], on_ready=ready.set, signals=()))
        except BaseException as exc:  # surfaced by start(); the thread must end
            self._failure = exc
        finally:
            sock.close()
            loop.close()
            ready.set()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._server.stop)
        self._thread.join()
        self._thread = None
        shutdown_logging()

    def log_text(self) -> str:
        """Everything logged so far, after the background writer has caught up."""
        self._catch_up()
        shutdown_logging()  # stopping the writer thread writes out what is queued
        text = self.logs.text()
        configure_logging(
            level="info", json_logs=True, secrets=secret_values(self.settings), stream=self.logs
        )
        return text

    def log_lines(self) -> list[dict[str, object]]:
        """Every JSON line logged so far."""
        return [orjson.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def next_record(self, timeout: float = 10.0) -> UsageRecord:
        """Wait for the next finished request's record (e.g. one that ends after the client left)."""
        return self.records.get(timeout=timeout)

    def request_records(self) -> list[dict[str, object]]:
        return [line for line in self.log_lines() if line.get("event") == "request"]

    def __enter__(self) -> RunningGateway:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
