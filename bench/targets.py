"""The processes under test: the mock upstream and Bastion (the peers are in bench/peers.py).

Each gateway gets the same LiteLLM-format config (one model group ``bench`` -> ``openai/bench-model``
at the mock), is spawned with its output sent to a log file, and is timed from spawn to its first
served chat completion.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procfs import memory_kib, process_tree

__all__ = [
    "BASTION",
    "GRANIAN",
    "MASTER_KEY",
    "SERVER_TARGETS",
    "UPSTREAM_KEY",
    "Target",
    "file_stem",
    "first_request",
    "free_port",
    "gateway_config",
    "gateway_target",
    "launch",
    "post_json",
    "start_gateway",
    "start_mock",
    "stop",
]

ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-bench-master"
UPSTREAM_KEY = "sk-upstream-bench"
GRANIAN = ROOT / "bench" / ".peers" / "granian" / "bin" / "granian"
BASTION = ROOT / ".venv" / "bin" / "bastion"
#: The server comparison's targets (``--servers``): Bastion's app under another server, or with
#: two workers. The name says which: ``@uvicorn``, ``@granian``, `` x2``.
SERVER_TARGETS = (
    "bastion x2",
    "bastion@uvicorn",
    "bastion@uvicorn x2",
    "bastion@granian",
    "bastion@granian x2",
)
_READY_TIMEOUT = 120.0
_MOCK = [sys.executable, "-m", "bastion.testing.upstream"]


@dataclass
class Target:
    """One thing the load is sent to."""

    name: str
    chat_url: str
    model: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float | None = None
    idle_rss_kib: int | None = None
    error: str | None = None
    log: Path | None = None
    base_url: str = ""
    #: Requests sent outside the measured steps (start-up checks) that a spend log also holds.
    setup_requests: int = 0

    def url(self, api: str) -> str:
        """Where a step calling ``api`` (``chat`` or ``responses``) sends its requests."""
        return self.chat_url if api == "chat" else self.chat_url.replace("/chat/completions", "/responses")

    def pids(self) -> list[int]:
        """The process and its descendants (empty when not running)."""
        if self.process is None or self.process.poll() is not None:
            return []
        return process_tree(self.process.pid)

    def memory(self) -> tuple[int, int]:
        """(RSS, peak RSS) in KiB."""
        return memory_kib(self.pids())

    def memory_of_root(self) -> int:
        """RSS in KiB of the process started (a supervisor, without its workers)."""
        return memory_kib(self.pids()[:1])[0]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_config(mock_url: str, *, model_info: str = "", settings: str = "") -> str:
    """The LiteLLM-format config every gateway gets; ``model_info`` and ``settings`` are YAML lines
    added under the deployment and at the end (a keyed run's pricing, store and Redis)."""
    return (
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: {mock_url}/v1\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        f"{model_info}"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
        f"{settings}"
    )


def start_mock(workdir: Path, token_delay: float) -> tuple[Target, str]:
    """Spawn the mock upstream; return it as the ``direct`` target and its base URL."""
    log = workdir / "mock.log"
    started = time.perf_counter()
    process = subprocess.Popen(
        [*_MOCK, "--port", "0", "--no-record", "--token-delay", str(token_delay)],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"mock upstream did not start: {line!r} (see {log})")
    url = line.removeprefix("listening on ")
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"}
    target = Target("direct", f"{url}/v1/chat/completions", "bench-model", headers, process, log=log)
    _first_request(target, started)
    return target, url


def compile_bastion() -> None:
    """Compile the bytecode of the ``bastion`` package the gateways import, as installing a wheel
    does, once per run.

    An editable install run with ``PYTHONDONTWRITEBYTECODE`` set (as on the development machine)
    never writes it, so every start compiled Bastion's ~300 modules from source again: about a
    quarter of a second of the start-up measured, and a cost no installed Bastion pays (LiteLLM's
    and the other libraries' bytecode was written when pip installed them).
    """
    global compiled
    spec = importlib.util.find_spec("bastion")
    if compiled or spec is None or not spec.submodule_search_locations:
        return
    for place in spec.submodule_search_locations:
        compileall.compile_dir(place, quiet=1)
    compiled = True


#: Whether :func:`compile_bastion` ran (``bench.startup --from-source`` sets it to skip it).
compiled = False


def start_gateway(name: str, mock_url: str, workdir: Path, *, config: Path | None = None) -> Target:
    """Spawn Bastion as target ``name`` on a free port against the mock; time it to its first answer.

    ``config`` is a config file written beforehand (the default: ``<workdir>/<name>.yaml`` with
    :func:`gateway_config`). Bastion's bytecode is compiled first, outside the time measured
    (:func:`compile_bastion`).
    """
    if config is None:
        config = workdir / f"{name}.yaml"
        config.write_text(gateway_config(mock_url))
    port = free_port()
    target = gateway_target(name, port, workdir)
    env = dict(os.environ)
    compile_bastion()
    argv = _bastion_argv(name, config, port, env)
    return launch(target, argv, env, f"{target.base_url}/health/readiness", cwd=workdir)


def gateway_target(name: str, port: int, workdir: Path) -> Target:
    """A gateway on ``port`` that serves the ``bench`` group with the master key as Bearer."""
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"}
    target = Target(
        name, f"{base}/v1/chat/completions", "bench", headers, log=workdir / f"{file_stem(name)}.log"
    )
    target.base_url = base
    return target


def launch(target: Target, argv: list[str], env: dict[str, str], ready_url: str, *, cwd: Path) -> Target:
    """Spawn ``argv`` as ``target``'s process (output to its log), wait until ``ready_url`` answers
    200, then send the first chat completion: the time from spawn to its answer is the start-up. A
    process that exits or is not ready in time is stopped, with the reason in ``target.error``."""
    assert target.log is not None
    started = time.perf_counter()
    target.process = subprocess.Popen(
        argv, stdout=target.log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=cwd
    )
    try:
        _wait_ready(target, ready_url, started)
        _first_request(target, started)
    except RuntimeError as exc:
        target.error = str(exc)
        stop(target)
    return target


def _bastion_argv(name: str, config: Path, port: int, env: dict[str, str]) -> list[str]:
    """How to run Bastion for target ``name``: its own server (``bastion serve``), uvicorn or
    Granian, with one worker or two (`` x2``)."""
    workers = "2" if name.endswith(" x2") else "1"
    if "@uvicorn" in name:
        env["PYTHONPATH"] = str(ROOT)  # the bench package, from the gateway's working directory
        return [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "bench.uvicorn_serve",
            str(config),
            str(port),
            workers,
        ]
    if "@granian" in name:
        env["BASTION_CONFIG"] = str(config.resolve())
        if workers != "1":
            env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
        return [
            str(GRANIAN), "--interface", "asgi", "--factory", "bastion.app:create_app_from_env",
            "--host", "127.0.0.1", "--port", str(port), "--workers", workers, "--loop", "uvloop",
            "--http", "1", "--no-ws", "--log-level", "warning",
        ]  # fmt: skip
    return [str(BASTION), "serve", "--config", str(config), "--port", str(port), "--workers", workers]


def file_stem(name: str) -> str:
    """``bastion+keys (pg+redis)`` -> ``bastion-keys-pg-redis``: a file name."""
    return "-".join("".join(c if c.isalnum() else " " for c in name).split())


def _wait_ready(target: Target, url: str, started: float) -> None:
    assert target.process is not None
    while time.perf_counter() - started < _READY_TIMEOUT:
        if target.process.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {target.process.returncode} (see {target.log})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.01)  # the harness only polls a starting process; nothing is measured meanwhile
    raise RuntimeError(f"{target.name} not ready after {_READY_TIMEOUT:.0f} s (see {target.log})")


def post_json(target: Target, url: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    """POST ``body`` to ``url`` with the target's headers; the JSON answer, or RuntimeError."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=target.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise RuntimeError(f"{target.name}: {what} failed with {exc.code}: {detail}") from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as exc:
        raise RuntimeError(f"{target.name}: {what} failed: {exc}") from exc


def first_request(target: Target) -> None:
    """One small chat completion with the target's current headers (RuntimeError when refused)."""
    body = {"model": target.model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
    post_json(target, target.chat_url, body, "first request")


def _first_request(target: Target, started: float) -> None:
    first_request(target)
    target.startup_seconds = time.perf_counter() - started
    target.idle_rss_kib = target.memory()[0]


def stop(target: Target, *, grace: float = 10.0) -> None:
    """Stop the target's process (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    process = target.process
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
