"""The gateways Bastion is compared with, run in the same benchmark when ``make bench-peers`` has
installed them under bench/.peers/ (pinned by bench/pins/; nothing is downloaded at run time):

- **litellm**: LiteLLM's proxy (Python), one worker, given the same LiteLLM-format config as Bastion
  (model group ``bench`` -> ``openai/bench-model`` at the mock, master key as Bearer);
- **portkey**: Portkey's open-source gateway (Node), which holds no model list and no keys: each
  request names the provider and the upstream in headers (``x-portkey-provider: openai``,
  ``x-portkey-custom-host: <mock>/v1``) and carries the upstream key as Bearer, with the upstream's
  model name.

Both send every call to the same mock upstream as the other targets, for the same scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.targets import (
    ROOT,
    UPSTREAM_KEY,
    Target,
    free_port,
    gateway_config,
    gateway_target,
    launch,
)

__all__ = [
    "LITELLM",
    "PEERS",
    "PORTKEY",
    "litellm_command",
    "missing",
    "portkey_command",
    "portkey_target",
    "start_peer",
    "versions",
]

_HOME = ROOT / "bench" / ".peers"
LITELLM = _HOME / "litellm" / "bin" / "litellm"
#: The gateway's Node entry point, as npm installs the package (its ``bin``).
PORTKEY = _HOME / "portkey" / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
#: The peers, in the order they run (after Bastion's targets).
PEERS = ("litellm", "portkey")
#: The upstream model name the mock answers for (a Portkey request names it; the others map ``bench``).
UPSTREAM_MODEL = "bench-model"


def missing(name: str) -> str | None:
    """Why peer ``name`` cannot run here (None when it can)."""
    if not (LITELLM if name == "litellm" else PORTKEY).exists():
        return f"not installed (make bench-peers installs it in bench/.peers/{name})"
    if name == "portkey" and shutil.which("node") is None:
        return "not run: no node on PATH"
    return None


def litellm_command(config: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """LiteLLM's proxy on ``port`` with ``config``, one worker: its argv and the environment it adds
    (no cost-map download at start-up, no telemetry, errors only on its output)."""
    argv = [str(LITELLM), "--config", str(config), "--port", str(port), "--num_workers", "1"]
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    return argv, env


def portkey_command(port: int) -> tuple[list[str], dict[str, str]]:
    """Portkey's gateway on ``port``: its argv and the environment it adds. ``--headless`` leaves out
    the console (its web UI and log stream); production mode as it is deployed."""
    node = shutil.which("node") or "node"
    return [node, str(PORTKEY), f"--port={port}", "--headless"], {"NODE_ENV": "production"}


def portkey_target(port: int, mock_url: str, workdir: Path) -> Target:
    """The Portkey target: requests to its ``/v1`` routed to the mock by header, with the upstream key."""
    base = f"http://127.0.0.1:{port}"
    headers = {
        "Authorization": f"Bearer {UPSTREAM_KEY}",
        "Content-Type": "application/json",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{mock_url}/v1",
    }
    target = Target(
        "portkey", f"{base}/v1/chat/completions", UPSTREAM_MODEL, headers, log=workdir / "portkey.log"
    )
    target.base_url = base
    return target


def start_peer(name: str, mock_url: str, workdir: Path) -> Target:
    """Spawn peer ``name`` (``litellm`` or ``portkey``) on a free port against the mock and time it
    to its first served chat completion, as Bastion's targets are."""
    port = free_port()
    env = dict(os.environ)
    if name == "litellm":
        config = workdir / "litellm.yaml"
        config.write_text(gateway_config(mock_url))
        argv, extra = litellm_command(config, port)
        target = gateway_target(name, port, workdir)
        ready = f"{target.base_url}/health/readiness"
    elif name == "portkey":
        argv, extra = portkey_command(port)
        target = portkey_target(port, mock_url, workdir)
        ready = f"{target.base_url}/"  # answers "AI Gateway says hey!" once it serves
    else:
        raise ValueError(f"unknown peer {name!r}: one of {', '.join(PEERS)}")
    env.update(extra)
    return launch(target, argv, env, ready, cwd=workdir)


def versions() -> dict[str, str]:
    """The installed version of each peer present (for the report)."""
    found: dict[str, str] = {}
    for info in sorted(LITELLM.parent.parent.glob("lib/python*/site-packages/litellm-*.dist-info")):
        found["litellm"] = info.name.removeprefix("litellm-").removesuffix(".dist-info")
    package = PORTKEY.parent.parent / "package.json"
    node = shutil.which("node")
    if package.exists() and node:
        version = str(json.loads(package.read_text()).get("version", "unknown"))
        runtime = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        found["portkey"] = f"{version} (Node {runtime.stdout.strip() or 'unknown'})"
    return found
