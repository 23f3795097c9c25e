"""Bastion's app under uvicorn, as ``bastion serve`` ran it before Bastion had its own server: the
baseline of the server comparison (``python -m bench --servers``).

    python -m bench.uvicorn_serve CONFIG PORT [WORKERS]
"""

from __future__ import annotations

import os
import sys
import tempfile

import uvicorn

from bastion.app import CONFIG_ENV, METRICS_DIR_ENV, build_app, secret_values
from bastion.observability.logging import configure_logging
from bastion.settings import load_settings

_OPTIONS = {
    "host": "127.0.0.1",
    "loop": "uvloop",
    "http": "httptools",
    "log_config": None,
    "access_log": False,
    "lifespan": "on",
    "timeout_graceful_shutdown": 30,
    "proxy_headers": False,
    "server_header": False,
    "date_header": False,
}


def main() -> int:
    config, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    settings = load_settings(config)
    configure_logging(  # as bastion serve does: every request's log line is written
        level=settings.bastion.log_level,
        json_logs=settings.bastion.json_logs,
        secrets=secret_values(settings),
    )
    if workers > 1:  # the old --workers: uvicorn's supervisor, each worker building the app
        os.environ[CONFIG_ENV] = os.path.abspath(config)
        os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="bench-metrics-")
        uvicorn.run(
            "bastion.app:create_app_from_env",
            factory=True,
            workers=workers,
            port=port,
            **_OPTIONS,  # type: ignore[arg-type]
        )
    else:
        uvicorn.run(build_app(settings), port=port, **_OPTIONS)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
