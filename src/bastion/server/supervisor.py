"""``bastion serve --workers N``: N serving processes on one port, and nothing of the app here.

``bastion serve`` loads and checks the config, takes the port, applies migrations, then replaces
itself (``exec``) with this module, so the supervisor holds none of what the app imported (under
25 MiB). It starts N workers (``bastion serve --worker-of FD --ready-fd FD``), each listening on
the port with SO_REUSEPORT; the kernel spreads new connections over them. It holds the port
itself (bound, not listening, so it takes no connections) so a restarting worker always gets it
back, and holds a pipe whose end each worker watches, so workers stop if it dies. Each worker
writes its pid to a second pipe once its gateway has started; when all N have, the supervisor
prints the banner ``bastion serve`` handed it (once: not again for a restarted worker).

Signals: SIGTERM or SIGINT stops the workers gracefully (a second one makes them quit at once);
SIGHUP restarts them one by one. A worker that dies is started again, unless workers keep dying
within a second of starting, or one reports that the app failed to start (exit code 3).

    python -m bastion.server.supervisor --workers N --host H --port P --config FILE
        [--port-fd FD] [--metrics-dir DIR] [--log-level L] [--text-logs]

``--port-fd``: the port, already held by ``bastion serve`` (see :func:`bastion.server.sockets.hold`);
without it the supervisor takes the port itself. The banner comes in the environment variable
:data:`BANNER_ENV`, which the workers do not inherit.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

from bastion.server.sockets import bind_failure, hold

__all__ = ["BANNER_ENV", "main", "report_ready", "supervise"]

#: The text the supervisor prints on standard output once every worker has started.
BANNER_ENV = "BASTION_SERVE_BANNER"

_log = logging.getLogger("bastion.supervisor")
#: SIGIO: a worker wrote to the readiness pipe (``O_ASYNC``).
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGIO}
#: A worker that dies sooner than this after starting counts towards a crash loop.
_FAST_DEATH = 1.0
_MAX_FAST_DEATHS = 5
#: After the workers were asked to stop: how long past their own shutdown timeout to wait.
_STOP_GRACE = 10.0
_STARTUP_FAILED = 3


class _Worker:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.started = time.monotonic()


def supervise(
    worker_argv: Sequence[str],
    *,
    workers: int,
    host: str,
    port: int,
    shutdown_timeout: float,
    holder: socket.socket | None = None,
    banner: str | None = None,
) -> int:
    """Run ``workers`` copies of ``worker_argv`` (to which ``--port P --worker-of FD --ready-fd FD``
    is added) until a signal stops them; the exit code. ``holder``: the port, already held;
    ``banner``: printed once all workers have started."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    holder = holder or hold(host, port)
    port = holder.getsockname()[1]
    watch_read, watch_write = os.pipe()
    ready_read, ready_write = os.pipe()
    _signal_when_readable(ready_read)
    argv = [*worker_argv, "--port", str(port), "--worker-of", str(watch_read), "--ready-fd", str(ready_write)]

    def spawn() -> _Worker:
        process = subprocess.Popen(
            argv,
            pass_fds=(watch_read, ready_write),
            preexec_fn=_unblock_signals,  # only pthread_sigmask runs between fork and exec
        )
        return _Worker(process)

    running = {w.process.pid: w for w in (spawn() for _ in range(workers))}
    _log.info("started %d workers on port %d: %s", workers, port, ", ".join(map(str, running)))
    ready: set[int] = set()  # the workers whose gateway has started
    stopping_since: float | None = None
    to_restart: list[int] = []  # SIGHUP: the workers still to be replaced, one at a time
    fast_deaths = 0
    code = 0

    def stop_all(exit_code: int) -> None:
        nonlocal stopping_since, code
        if stopping_since is None:
            stopping_since = time.monotonic()
            code = exit_code
        for worker in running.values():
            worker.process.send_signal(signal.SIGTERM)  # a second one makes a worker quit at once

    try:
        while running:
            info: signal.struct_siginfo | None
            if stopping_since is None:
                info = signal.sigwaitinfo(_SIGNALS)
            else:
                left = stopping_since + shutdown_timeout + _STOP_GRACE - time.monotonic()
                info = signal.sigtimedwait(_SIGNALS, max(0.1, left))
                if info is None:
                    waited = shutdown_timeout + _STOP_GRACE
                    _log.error("workers still running %.0f s after SIGTERM; killing them", waited)
                    for worker in running.values():
                        worker.process.kill()
                    stopping_since = time.monotonic() + 3600.0
                    continue
            if info.si_signo in (signal.SIGTERM, signal.SIGINT):
                if stopping_since is None:
                    _log.info("stopping %d workers", len(running))
                stop_all(code)
            elif info.si_signo == signal.SIGIO:
                ready.update(_read_pids(ready_read))
                if banner is not None and stopping_since is None and len(ready & running.keys()) >= workers:
                    _log.info("all %d workers started", workers)
                    print(banner, flush=True)
                    banner = None
            elif info.si_signo == signal.SIGHUP:
                if stopping_since is None and not to_restart:
                    to_restart = list(running)
                    _log.info("restarting %d workers one at a time", len(to_restart))
                    running[to_restart[0]].process.send_signal(signal.SIGTERM)
            else:
                for pid, worker in list(running.items()):
                    status = worker.process.poll()
                    if status is None:
                        continue
                    del running[pid]
                    ready.discard(pid)
                    if stopping_since is not None:
                        continue
                    planned = bool(to_restart) and to_restart[0] == pid
                    if status == _STARTUP_FAILED:
                        _log.error("worker %d: the gateway failed to start; stopping", pid)
                        stop_all(_STARTUP_FAILED)
                        continue
                    if time.monotonic() - worker.started < _FAST_DEATH:
                        fast_deaths += 1
                        if fast_deaths >= _MAX_FAST_DEATHS:
                            _log.error("workers keep dying as they start; stopping")
                            stop_all(1)
                            continue
                    else:
                        fast_deaths = 0
                    if not planned:
                        _log.warning("worker %d exited with %s; starting another", pid, status)
                    new = spawn()
                    running[new.process.pid] = new
                    if planned:
                        to_restart.pop(0)
                        if to_restart and to_restart[0] in running:
                            running[to_restart[0]].process.send_signal(signal.SIGTERM)
    finally:
        for worker in running.values():
            worker.process.kill()
        for fd in (watch_write, watch_read, ready_write, ready_read):
            os.close(fd)
        holder.close()
    return code


def report_ready(fd: int) -> None:
    """In a worker, once its gateway has started: tell the supervisor (its pid on the readiness
    pipe ``fd``, which is then closed). A supervisor already gone is no error."""
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def _signal_when_readable(fd: int) -> None:
    """The kernel sends this process SIGIO when data arrives on ``fd``, so the one
    ``sigwaitinfo`` loop sees workers start as it sees them die (no second thread, no polling)."""
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK | os.O_ASYNC)


def _read_pids(fd: int) -> Iterable[int]:
    """Every pid written to the readiness pipe so far (one SIGIO may stand for several writes)."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return (int(pid) for pid in data.split())


def _unblock_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bastion.server.supervisor")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--port-fd", type=int, help="the port, held (bound) by bastion serve")
    parser.add_argument("--shutdown-timeout", type=float, default=30.0)
    parser.add_argument("--metrics-dir", help="removed when the supervisor exits")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--text-logs", action="store_true")
    args = parser.parse_args(argv)
    from bastion.observability.logging import configure_logging, shutdown_logging

    banner = os.environ.pop(BANNER_ENV, None)
    # Blocked before the log writer's thread starts, so it inherits the mask: a signal the kernel
    # handed to that thread instead would take its default action (end the process) unseen.
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    configure_logging(level=args.log_level, json_logs=not args.text_logs)
    worker = [sys.executable, "-m", "bastion.cli", "serve", "--config", args.config, "--host", args.host]
    try:
        return supervise(
            worker,
            workers=args.workers,
            host=args.host,
            port=args.port,
            shutdown_timeout=args.shutdown_timeout,
            holder=None if args.port_fd is None else socket.socket(fileno=args.port_fd),
            banner=banner,
        )
    except OSError as exc:
        print(bind_failure(args.host, args.port, exc), file=sys.stderr)
        return 1
    finally:
        shutdown_logging()
        if args.metrics_dir:
            shutil.rmtree(args.metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
