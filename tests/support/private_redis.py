"""A ``redis-server`` of the test's own, on a free port in a temporary directory, that it may stop,
kill and start again (the shared Redis at 6379 is never touched).

::

    with PrivateRedis(tmp_path) as server:     # returns once Redis says it is ready
        server.url                              # redis://127.0.0.1:<port>/0
        server.restart()                        # SIGTERM, then a new server on the same port
        server.clients()                        # CLIENT LIST, parsed
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import pytest
import redis

from support.serve import free_port

__all__ = ["PrivateRedis"]

_READY = "Ready to accept connections"


class PrivateRedis:
    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.directory = directory
        self.port = port or free_port()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server; return once it logged that it accepts connections."""
        where = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        self._proc = subprocess.Popen(
            ["redis-server", *where, "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(self._proc, ready), daemon=True).start()
        if not ready.wait(timeout=30) or self._proc.poll() is not None:
            raise AssertionError(f"redis-server did not start on port {self.port}")

    @staticmethod
    def _read(proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if _READY in line:
                ready.set()
        ready.set()  # the process ended: start() reports it

    def stop(self) -> None:
        """SIGTERM and wait: every client connection is closed by the server."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def clients(self) -> list[dict[str, str]]:
        """``CLIENT LIST`` without the connection that asks."""
        admin = self.client()
        try:
            me = admin.client_id()
            return [c for c in admin.client_list() if str(c["id"]) != str(me)]
        finally:
            admin.close()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)
