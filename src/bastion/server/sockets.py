"""Taking the port: the listening socket of a serving process, the port the ``--workers``
supervisor holds, and the one line ``bastion serve`` prints when it cannot have the port.

Standard library only: the supervisor imports this and nothing of the gateway.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["bind_failure", "hold", "listen"]

_BACKLOG = 2048


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A non-blocking socket bound to ``host:port`` and listening (``port`` 0: any free port).

    ``reuse_port`` (a worker of ``--workers N``) lets every worker listen on the same port, the
    kernel spreading new connections over them. Raises :class:`OSError` when the address is taken
    or cannot be used; :func:`bind_failure` says so in one line.
    """
    sock = _bound(host, port, reuse_port=reuse_port)
    try:
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def hold(host: str, port: int) -> socket.socket:
    """The port, bound (not listening, so it takes no connection) with ``SO_REUSEPORT``: the
    supervisor keeps it so its workers can always listen on it, and nobody else can.

    A plain bind first checks nobody holds the port, not even another supervisor (two sockets
    with ``SO_REUSEPORT`` of one user would share it silently).
    """
    probe = _bound(host, port, reuse_port=False)
    port = probe.getsockname()[1]
    probe.close()  # never listened, never connected: the port is free again at once
    return _bound(host, port, reuse_port=True)


def bind_failure(host: str, port: int, exc: OSError) -> str:
    """The one line ``bastion serve`` prints when it cannot listen."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"bastion: cannot listen on {where}: the port is already in use (another bastion serve, "
            f"or another program); stop it or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return f"bastion: cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror):
        return f"bastion: cannot listen on {where}: unknown host '{host}' (--host or bastion_settings.host)"
    return f"bastion: cannot listen on {where}: {exc.strerror or exc}"


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio and uvicorn do: a restart may bind while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock
