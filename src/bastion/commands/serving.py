"""``bastion serve``: check the config, take the port, start the gateway, then say how to call it.

The order is the promise of the first hour. A config with a problem (a route collision included)
stops before anything listens: the gateway is built (not started) first, once, and that build is
the route check. Then the port is taken, so a busy port is one clear line and exit status 1 (no
banner, nothing started). The banner is printed once, by the
process that owns the port, once the gateway has started and accepts connections: this process
itself, or with ``--workers N`` the supervisor it becomes (:mod:`bastion.server.supervisor`, which
imports none of the gateway and prints the banner when every worker has started). Every line of
the banner can be copied and used as it is: the commands are complete, and the rest are ``#``
comments (harmless in a shell or in Python) or addresses to open.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
import tempfile
from typing import NoReturn

from bastion import __version__
from bastion.domain.errors import ConfigError
from bastion.settings.model import Settings

__all__ = ["DEMO_SECRETS", "banner", "serve"]

#: Secrets published in ``examples/demo.yaml``: printing them gives nothing away, and lets a new
#: user copy working lines. Any other key or password is never printed.
DEMO_SECRETS = frozenset({"sk-bastion-demo", "demo-password"})

_SHOWN_AS_LOCALHOST = ("127.0.0.1", "0.0.0.0", "::", "::1", "")


def serve(
    path: str,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    migrate: bool,
    worker_of: tuple[int, int | None] | None = None,
) -> int:
    """``bastion serve``: the exit status (2: the config, 1: the port, 3: the gateway's start-up).

    ``worker_of``: this process is a worker of ``--workers N``, given the supervisor's two pipe
    ends (the one it watches, the one it reports its start on).
    """
    from bastion.server.sockets import bind_failure, listen
    from bastion.settings import load_settings

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        _complain(str(exc).splitlines())
        return 2
    host = host or settings.bastion.host
    port = port if port is not None else settings.bastion.port
    if worker_of is not None:  # ``bastion serve`` checked the config and took the port already
        return _serve_worker(settings, host, port, worker_of)

    if workers > 1:
        return _serve_supervised(settings, path, host=host, port=port, workers=workers, migrate=migrate)

    from bastion.commands.check_config import checked_app, config_warnings
    from bastion.observability.logging import shutdown_logging
    from bastion.server.process import serve_process

    _configure_logging(settings)
    try:
        # Built once, started later: a route collision stops start-up before anything listens.
        app, problems = checked_app(settings, migrate=migrate)
        if app is None:
            _complain(problems)
            return 2
        try:
            sock = listen(host, port)  # a busy port: one clear line, no banner, nothing started
        except OSError as exc:
            print(bind_failure(host, port, exc), file=sys.stderr)
            return 1
        try:
            text = banner(settings, host, sock.getsockname()[1])
            for line in config_warnings(settings):
                logging.getLogger("bastion").warning(line)
            return serve_process(app, settings.bastion.server, sock, on_ready=lambda: print(text, flush=True))
        finally:
            sock.close()
    finally:
        shutdown_logging()


def _serve_supervised(
    settings: Settings, path: str, *, host: str, port: int, workers: int, migrate: bool
) -> int:
    """``--workers N``: check the config, hold the port, then become the supervisor."""
    from bastion.commands.check_config import config_problems, config_warnings
    from bastion.server.sockets import bind_failure, hold

    problems = config_problems(settings)  # a route collision stops start-up before anything listens
    if problems:
        _complain(problems)
        return 2
    try:
        sock = hold(host, port)  # the port first: a busy one is a clear line, and no banner
    except OSError as exc:
        print(bind_failure(host, port, exc), file=sys.stderr)
        return 1
    text = banner(settings, host, sock.getsockname()[1])
    _configure_logging(settings)
    for line in config_warnings(settings):
        logging.getLogger("bastion").warning(line)
    return _supervise(settings, path, sock, host=host, workers=workers, migrate=migrate, banner=text)


def _serve_worker(settings: Settings, host: str, port: int, pipes: tuple[int, int | None]) -> int:
    """One worker of ``--workers N``: its own socket on the supervisor's port (SO_REUSEPORT)."""
    from bastion.app import METRICS_DIR_ENV, build_app
    from bastion.observability.logging import shutdown_logging
    from bastion.observability.metrics import Metrics, pin_process_id
    from bastion.server.process import serve_process
    from bastion.server.sockets import bind_failure, listen

    pin_process_id()  # before any metric exists
    watch_fd, ready_fd = pipes
    try:
        sock = listen(host, port, reuse_port=True)
    except OSError as exc:
        print(bind_failure(host, port, exc), file=sys.stderr)
        return 1
    _configure_logging(settings)
    try:
        # The supervisor migrated; metrics go to the directory all workers share.
        metrics = Metrics(multiprocess_dir=os.environ.get(METRICS_DIR_ENV))
        app = build_app(settings, metrics=metrics, migrate=False, work_aside=True)
        return serve_process(app, settings.bastion.server, sock, parent_fd=watch_fd, ready_fd=ready_fd)
    finally:
        sock.close()
        shutdown_logging()


def _supervise(
    settings: Settings,
    path: str,
    holder: socket.socket,
    *,
    host: str,
    workers: int,
    migrate: bool,
    banner: str,
) -> int:
    """Migrate once, then become the lean supervisor, handing it the port and the banner; 3 if
    the migrations failed (as a worker whose gateway failed to start)."""
    from bastion.observability.logging import shutdown_logging

    if migrate:
        from bastion.administration.offline import migrate_database

        try:
            migrate_database(settings)
        except Exception:
            logging.getLogger("bastion").exception("start-up failed: the database migrations")
            holder.close()
            shutdown_logging()
            return 3
    shutdown_logging()  # what was logged is written before this process becomes the supervisor
    return _exec_supervisor(settings, path, holder, host=host, workers=workers, banner=banner)


def _exec_supervisor(
    settings: Settings, path: str, holder: socket.socket, *, host: str, workers: int, banner: str
) -> NoReturn:
    """Replace this process with :mod:`bastion.server.supervisor` (nothing imported here stays)."""
    from bastion.app import METRICS_DIR_ENV
    from bastion.server.supervisor import BANNER_ENV

    metrics_dir = tempfile.mkdtemp(prefix="bastion-metrics-")
    os.environ[METRICS_DIR_ENV] = metrics_dir
    os.environ[BANNER_ENV] = banner
    holder.set_inheritable(True)
    port = holder.getsockname()[1]
    argv = [sys.executable, "-m", "bastion.server.supervisor", "--workers", str(workers)]
    argv += ["--host", host, "--port", str(port), "--port-fd", str(holder.fileno())]
    argv += ["--config", os.path.abspath(path)]
    argv += ["--shutdown-timeout", str(settings.bastion.server.shutdown_timeout_seconds)]
    argv += ["--metrics-dir", metrics_dir, "--log-level", settings.bastion.log_level]
    if not settings.bastion.json_logs:
        argv.append("--text-logs")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _configure_logging(settings: Settings) -> None:
    from bastion.observability.logging import configure_logging
    from bastion.settings.secret_values import secret_values

    configure_logging(
        level=settings.bastion.log_level,
        json_logs=settings.bastion.json_logs,
        secrets=secret_values(settings),
    )


def _complain(lines: list[str]) -> None:
    for line in lines:
        print(f"bastion: {line}", file=sys.stderr)


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
    held.append("the spend journal, rows not in the database yet")
    return "; ".join(held)
