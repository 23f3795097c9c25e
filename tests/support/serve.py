"""``bastion serve`` as a child process, as an operator runs it: a real port and real signals.

::

    server = ServeProcess(config_path)
    server.start()          # returns once its banner says it is listening (a line, not a sleep)
    ...
    server.terminate()      # SIGTERM: a graceful stop
    assert server.wait() == 0

The server's output (its log and the banner) is read in a background thread from the start, so a
busy server never blocks on a full pipe; ``log()`` returns what it wrote so far.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["ServeProcess", "free_port"]

BASTION = str(Path(sys.executable).with_name("bastion"))
#: The last line of the banner ``bastion serve`` prints once it listens.
READY = "# stop with Ctrl+C"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    def __init__(self, config: Path, *, port: int | None = None) -> None:
        self.config = config
        self.port = port or free_port()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready: str = READY) -> None:
        """Start the server and return once a log line contains ``ready``."""
        self._proc = subprocess.Popen(
            [BASTION, "serve", "--config", str(self.config), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
        started = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(ready, started), daemon=True)
        self._reader.start()
        started.wait(timeout=60)
        if self._proc.poll() is not None or not started.is_set():
            raise AssertionError("bastion serve did not start:\n" + self.log())

    def terminate(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit (and its log to be read to the end); its return code."""
        assert self._proc is not None and self._reader is not None
        code = self._proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return code

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def log(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def _read(self, ready: str, started: threading.Event) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            with self._lock:
                self._lines.append(line)
            if ready in line:
                started.set()
        started.set()  # the process ended: start() reports it
