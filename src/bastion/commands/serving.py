"""What ``bastion serve`` does around the HTTP server: take the port first, then say how to call it.

The port is bound before anything else is loaded, so a busy port is one clear line and exit status 1
(no banner, no half-started gateway). The banner is printed once the server listens; every line
of it can be copied and used as it is: the commands are complete, and the rest are ``#`` comments
(harmless in a shell or in Python) or addresses to open.
"""

from __future__ import annotations

import errno
import shlex
import socket

from bastion import __version__
from bastion.settings.model import Settings

__all__ = ["DEMO_SECRETS", "banner", "bind_failure", "listen"]

#: Secrets published in ``examples/demo.yaml``: printing them gives nothing away, and lets a new
#: user copy working lines. Any other key or password is never printed.
DEMO_SECRETS = frozenset({"sk-bastion-demo", "demo-password"})

_BACKLOG = 2048
_SHOWN_AS_LOCALHOST = ("127.0.0.1", "0.0.0.0", "::", "::1", "")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening (inheritable, for worker processes).

    Raises :class:`OSError` when the address is taken or cannot be used; see :func:`bind_failure`.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio and uvicorn do: a restart may bind while old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


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


def banner(settings: Settings, host: str, port: int) -> str:
    """The lines printed once the gateway listens: what it serves, and how to call it."""
    shown = "localhost" if host in _SHOWN_AS_LOCALHOST else f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    groups = settings.group_names()
    model = next((name for name in groups if "*" not in name), groups[0] if groups else "model")
    lines = [
        f"# Bastion {__version__} is serving {settings.source} on {base}",
        f"# model groups: {', '.join(groups)}",
    ]
    key, python_key, note = _caller_key(settings)
    if note:
        lines.append(note)
    body = f'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}'
    auth = f'-H "Authorization: Bearer {key}" ' if key else ""
    lines += [
        "# call it with curl:",
        f'curl {base}/v1/chat/completions {auth}-H "Content-Type: application/json" -d {shlex.quote(body)}',
        "# or from Python (pip install openai):",
        ("import os; " if python_key.startswith("os.") else "")
        + f'from openai import OpenAI; print(OpenAI(base_url="{base}/v1", api_key={python_key})'
        + f'.chat.completions.create(model="{model}", messages=[{{"role": "user", "content": "Hello"}}])'
        + ".choices[0].message.content)",
        f"# dashboard: {base}/ui (log in with {_dashboard_login(settings)})",
    ]
    browser = settings.bastion.browser
    if browser is not None and any(
        prefix.rstrip("/") == "/examples/browser" for prefix in browser.static_files
    ):
        lines.append(f"# browser demo: {base}/examples/browser/ (it needs a browser token: docs/browser.md)")
    lines.append(f"# data directory: {settings.state_dir()} ({_data_holds(settings)})")
    lines.append("# stop with Ctrl+C; docs: README.md and docs/")
    return "\n".join(lines)


def _caller_key(settings: Settings) -> tuple[str, str, str]:
    """The key for the example lines: curl's, Python's, and a comment saying where it comes from."""
    if settings.master_key is not None:
        value = settings.master_key.reveal()
        if value in DEMO_SECRETS:
            return value, f'"{value}"', ""
        note = "# first: export BASTION_KEY=<the master key> in the shell you call from"
        return "$BASTION_KEY", 'os.environ["BASTION_KEY"]', note
    if settings.bastion.static_keys:
        note = "# first: export BASTION_KEY=<one of the static keys> in the shell you call from"
        return "$BASTION_KEY", 'os.environ["BASTION_KEY"]', note
    return "", '"none"', "# no master key and no static keys: anyone who can reach the port may call"


def _dashboard_login(settings: Settings) -> str:
    accounts = settings.bastion.accounts
    ways = ["the master key"] if settings.master_key is not None else []
    if accounts.first_superuser:
        password = accounts.first_superuser_password
        if password is not None and password.reveal() in DEMO_SECRETS:
            ways.append(f"{accounts.first_superuser} / {password.reveal()}")
        else:
            ways.append(f"{accounts.first_superuser} and its password")
    return " or ".join(ways) if ways else "a superuser account"


def _data_holds(settings: Settings) -> str:
    held = [] if settings.database_url else ["the SQLite database bastion.db"]
    if settings.bastion.accounts.jwt_secret is None:
        held.append("bastion-jwt-secret, which signs logins and dashboard sessions")
    held.append("spend spool files while the database is unreachable")
    return "; ".join(held)
