"""PostgreSQL and Redis servers of a test's own, on free ports in a temporary directory, to kill.

The shared servers of the machine must never be stopped; a test that needs a database or a Redis
that dies mid-load starts one of these::

    with PrivatePostgres() as pg:           # initdb (once per session, then copied) and start
        url = pg.url                        # postgresql://postgres@127.0.0.1:<port>/postgres
        pg.kill()                           # SIGKILL the postmaster and every backend
        pg.start()                          # crash recovery, same port, same data

    with PrivateRedis(tmp_path) as redis:   # no persistence: a restart has lost every key
        redis.kill(); redis.start()
        redis.restart()                     # SIGTERM, then a new server on the same port
        redis.clients()                     # CLIENT LIST, parsed

``start()`` returns once the server logs that it accepts connections (read from its output, not a
sleep). Run as root, PostgreSQL runs as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest
import redis

from support.serve import free_port

__all__ = ["PrivatePostgres", "PrivateRedis"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_READY_TIMEOUT = 60.0
_template: Path | None = None
_template_lock = threading.Lock()


def _require(path: str | Path, what: str) -> None:
    if shutil.which(str(path)) is None:
        message = f"{what} ({path}) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI needs it)")
        pytest.skip(message)


class _Process:
    """A server process whose output is read until a ready line; killed as a process group."""

    def __init__(self, name: str, ready: str) -> None:
        self._name = name
        self._ready = ready
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []

    def launch(self, argv: list[str], *, user: str | None = None) -> None:
        self._lines = []
        self._proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            user=user,
            start_new_session=True,  # its own group: kill() takes every child with it
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(self._proc, ready), daemon=True).start()
        ready.wait(_READY_TIMEOUT)
        if self._proc.poll() is not None or not any(self._ready in line for line in self._lines):
            raise AssertionError(f"{self._name} did not start:\n" + "".join(self._lines))

    def kill(self) -> None:
        """SIGKILL the server and all its children, and wait for the leader to be gone."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (a clean stop), or SIGKILL if it does not end in 30 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def _read(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._lines.append(line)
            if self._ready in line:
                ready.set()
        ready.set()


def _postgres_user() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def _own(path: Path) -> None:
    user = _postgres_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
                os.chown(name, entry.pw_uid, entry.pw_gid)


def _initdb_template() -> Path:
    """One initdb per test session; each instance starts from a copy (2 s saved per instance)."""
    global _template
    with _template_lock:
        if _template is None:
            root = Path(tempfile.mkdtemp(prefix="bastion-pg-template-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            _own(root)
            data = root / "data"
            subprocess.run(
                [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N"],
                check=True,
                capture_output=True,
                user=_postgres_user(),
            )
            _template = data
        return _template


class _Server:
    """What both servers share: a process to kill or stop, and a context to run in."""

    _process: _Process

    def start(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        """SIGKILL the server (and its children)."""
        self._process.kill()

    def stop(self) -> None:
        self._process.stop()

    def cleanup(self) -> None:
        """Remove what the server left on disk (after ``stop``)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self.cleanup()


class PrivatePostgres(_Server):
    """A PostgreSQL server of the test's own (fsync off: the server is killed, never the machine)."""

    def __init__(self) -> None:
        _require(PG_BIN / "postgres", "PostgreSQL")
        # Not under pytest's tmp_path: that is private to root, and the server may run as postgres.
        self.directory = Path(tempfile.mkdtemp(prefix="bastion-pg-"))
        self.port = free_port()
        self._process = _Process("PostgreSQL", "database system is ready to accept connections")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        data = self.directory / "data"
        if not data.exists():
            shutil.copytree(_initdb_template(), data)
            _own(self.directory)
            data.chmod(0o700)
        options = [
            f"port={self.port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={data}",
            # Safe against a killed server (written pages are in the kernel); not against a
            # machine crash, which these tests do not cause. synchronous_commit stays on: a
            # commit must be in the kernel before it is acknowledged, or a kill loses it.
            "fsync=off",
            "full_page_writes=off",
            "shared_buffers=16MB",
            "max_connections=60",
        ]
        argv = [str(PG_BIN / "postgres"), "-D", str(data)]
        for option in options:
            argv += ["-c", option]
        self._process.launch(argv, user=_postgres_user())

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis(_Server):
    """A Redis server of the test's own, without persistence: a restart has lost every key."""

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        _require("redis-server", "Redis")
        self.directory = directory
        self.port = port or free_port()
        self._process = _Process("Redis", "Ready to accept connections")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--protected-mode", "no", "--dir", str(self.directory)]
        self._process.launch(argv)

    def restart(self) -> None:
        """SIGTERM (every client connection is closed by the server), then a new server on the
        same port."""
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
