"""A plain gateway loads only what it uses: a real ``bastion serve`` (embedded default, master key,
an OpenAI deployment priced from the shipped table) answers a chat and a stream, and by its
graceful exit has imported none of the heavy libraries that other configurations need.

Each of these costs memory for as long as the process lives (PyJWT with cryptography about
20 MiB, genai-prices' pydantic models about 13 MiB, Alembic about 10 MiB, SQLAlchemy's ORM, which
Bastion's Core-only store never uses, about 6 MiB) and start-up time;
the check runs in the server's own process, at exit, so any import on any path (start-up, the
first request, the stream, the shut-down) counts. A restart (the database at head, the price table
saved) spawns no child process: each child says so in the log, and the restart's log has none.
Cycle collection, off during start-up, is on again with start-up's objects frozen (``gc.freeze``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import yaml

from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY
from support.serve import READY, free_port

#: Packages (and subpackages) a gateway with neither accounts, JWT auth, encryption keys, Redis, PostgreSQL,
#: billing, tracing nor due migrations must not import (SQLAlchemy's PostgreSQL dialect: about 20 ms
#: of start-up on SQLite).
HEAVY = frozenset(
    {
        "aiohttp",
        "alembic",
        "argon2",
        "asyncpg",
        "cryptography",
        "genai_prices",
        "httpx",
        "jinja2",
        "jwt",
        "mako",
        "opentelemetry",
        "pydantic",
        "redis",
        "sqlalchemy.dialects.postgresql",
        "sqlalchemy.orm",
        "uvicorn",
        "websockets",
    }
)

_SERVE = """
import atexit, gc, sys
HEAVY = set(sys.argv.pop(1).split(","))
def report():
    loaded = sorted(h for h in HEAVY if any(n == h or n.startswith(h + ".") for n in sys.modules))
    sys.stdout.write("GC " + str(gc.isenabled()) + " " + str(gc.get_freeze_count()) + "\\n")
    sys.stdout.write("LOADED " + ",".join(loaded) + "\\n")
    sys.stdout.flush()
atexit.register(report)
from bastion.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _serve_once(config: Path) -> tuple[list[str], list[str]]:
    """Start ``bastion serve``, send a chat and a stream, stop it; (heavy modules loaded, its output)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE,
            ",".join(sorted(HEAVY)),
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if READY in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60) and proc.poll() is None, "\n".join(lines)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}
        for stream in (False, True):
            body = {"model": "gpt", "messages": [{"role": "user", "content": "hello"}], "stream": stream}
            request = urllib.request.Request(url, json.dumps(body).encode(), headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = response.read()
            assert (b"data: [DONE]" in answer) if stream else (b'"choices"' in answer)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        reader.join(timeout=30)
    assert code == 0, "\n".join(lines)
    report = [line for line in lines if line.startswith("LOADED ")]
    assert report, "\n".join(lines)
    loaded = report[-1].removeprefix("LOADED ")
    return (loaded.split(",") if loaded else []), lines


def test_a_plain_gateway_imports_no_heavy_library(tmp_path: Path) -> None:
    with MockUpstream() as upstream:
        config = tmp_path / "config.yaml"
        model = {"model": "openai/gpt-4o-mini", "api_base": f"{upstream.url}/v1", "api_key": "sk-upstream-1"}
        config.write_text(
            yaml.safe_dump(
                {
                    "model_list": [{"model_name": "gpt", "litellm_params": model}],
                    "general_settings": {"master_key": MASTER_KEY},
                }
            )
        )
        # The first start creates the database (its migrations are due: a child process applies
        # them) and looks the price up (a child again); the next is what every restart does.
        for start in ("first", "again"):
            loaded, lines = _serve_once(config)
            assert loaded == [], f"{start}:\n" + "\n".join(lines)
            # Collection was off during start-up and is on again, start-up's objects frozen.
            enabled, frozen = next(line for line in lines if line.startswith("GC ")).split()[1:]
            assert enabled == "True" and int(frozen) > 10_000, "\n".join(lines)
            children = [line for line in lines if "in a child process" in line]
            if start == "first":
                assert len(children) == 2, "\n".join(lines)
            else:  # nothing due: no child process delays the first answer
                assert children == [], "\n".join(lines)
            # The shipped table priced the deployment (the lean start did not lose the price).
            priced = [
                json.loads(line) for line in lines if line.startswith("{") and '"event":"request"' in line
            ]
            assert len(priced) == 2 and all(entry["cost_usd"] > 0 for entry in priced), "\n".join(lines)
    assert (tmp_path / "bastion.db").exists() and (tmp_path / "price-table.json").exists()
