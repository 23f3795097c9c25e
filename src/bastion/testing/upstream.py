"""A scriptable mock upstream that speaks the OpenAI, Anthropic and Gemini wire protocols on a real socket.

Tests start it in a background thread (``with MockUpstream() as upstream: ...``), point a provider
at ``upstream.url``, script faults (``upstream.script(Fault(status=429))``) and read what the
gateway sent (``upstream.requests``). The benchmark runs it as its own process::

    python -m bastion.testing.upstream --host 127.0.0.1 --port 9000 [--token-delay 0.01] [--no-record]

which prints ``listening on http://127.0.0.1:9000`` once it accepts connections. Out of process,
``POST /_mock/script`` (a JSON list of faults, or ``{"model": ..., "faults": [...]}``),
``GET /_mock/requests`` and ``POST /_mock/reset`` do what the methods below do.

Answers are deterministic: N words (``alpha bravo charlie ...``) where N is the request's output
token limit (capped at 4096, default 12), a call to the first (or forced) tool with
``{"city": "Oslo"}`` when the request has tools and the last user text says ``use_tool``, and a
thinking block first when an Anthropic request enables thinking.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType

import uvicorn
import uvloop

from bastion.testing._upstream_app import MockApp
from bastion.testing._upstream_script import Fault, RecordedRequest, Script

__all__ = ["Fault", "MockUpstream", "RecordedRequest", "main"]


class _Server(uvicorn.Server):
    """uvicorn's server, telling us the moment it listens (or fails to)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._on_started()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _config(app: MockApp, *, quiet: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        # In-process use must not reconfigure the test's logging.
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=5,
        backlog=4096,
    )


class MockUpstream:
    """The mock upstream server, run in a background thread with its own uvloop event loop."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, token_delay: float = 0.0, record: bool = True
    ) -> None:
        self._host = host
        self._port = port
        self._script = Script(record=record)
        self._app = MockApp(self._script, token_delay=token_delay)
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` (the real port once started)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """What the mock received so far, oldest first (a copy)."""
        return self._script.requests()

    def start(self) -> None:
        """Listen and serve in a background thread; return once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("MockUpstream already started")
        sock = _bind(self._host, self._port)
        self._port = sock.getsockname()[1]
        self._app.closing = asyncio.Event()  # a stopped mock may be started again
        ready = threading.Event()
        self._server = _Server(_config(self._app, quiet=True), ready.set)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock, ready), name="mock-upstream", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._failure is not None or not self._server.started:
            self._thread.join()
            self._thread = None
            raise RuntimeError("MockUpstream failed to start") from self._failure

    def _run(self, server: _Server, sock: socket.socket, ready: threading.Event) -> None:
        loop = uvloop.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to start() or visible on stop(); the thread must end
            self._failure = exc
        finally:
            sock.close()
            loop.close()
            ready.set()

    def stop(self) -> None:
        """Wake waiting handlers, stop serving and join the thread."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None or server is None:
            return
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._app.close)
            except RuntimeError:
                pass  # the loop closed in between: nothing is waiting any more
        server.should_exit = True
        thread.join()
        self._thread = None

    def script(self, *faults: Fault) -> None:
        """Queue faults: each next request consumes one, in order."""
        self._script.add(faults)

    def script_for(self, key: str, *faults: Fault) -> None:
        """Queue faults only for requests whose upstream model (body ``model``, or path model) is ``key``."""
        self._script.add(faults, key)

    def reset(self) -> None:
        """Forget recorded requests and queued faults."""
        self._script.reset()

    def __enter__(self) -> MockUpstream:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the mock upstream in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bastion.testing.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between stream tokens")
    parser.add_argument("--no-record", action="store_true", help="keep no record (long benchmark runs)")
    args = parser.parse_args(argv)
    sock = _bind(args.host, args.port)
    app = MockApp(Script(record=not args.no_record), token_delay=args.token_delay)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = _Server(_config(app, quiet=False), lambda: print(f"listening on {url}", flush=True))
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve(sockets=[sock]))
    finally:
        sock.close()
        loop.close()


if __name__ == "__main__":
    main()
