"""Running the real coding agents and agent SDKs of tests/clients (pinned, installed by
``make js-deps``) against a gateway on loopback, with no way out to the network.

Each run gets a fresh home directory, every telemetry and update switch the clients document, and
``HTTP(S)_PROXY`` pointing at a :class:`NetworkTrap`: whatever a client tries to reach beyond
loopback lands there, and the test fails naming it.
"""

from __future__ import annotations

import os
import shutil
import socketserver
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from support.node import ROOT, require_tool

__all__ = [
    "CLIENTS_DIR",
    "CODEX_QUIET",
    "NetworkTrap",
    "agent_env",
    "codex_config",
    "require_client",
    "run_agent",
    "tool_round_trips",
]

CLIENTS_DIR = ROOT / "tests" / "clients"
_BIN = CLIENTS_DIR / "node_modules" / ".bin"

#: Each client's documented switches for telemetry, error reports, update checks and downloads.
_QUIET = {
    # Claude Code
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # OpenCode
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    # Codex: the rest is in its config.toml (codex_config below)
    "NO_COLOR": "1",
}


class _TrapHandler(BaseHTTPRequestHandler):
    server: _TrapServer

    def _refuse(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")
        self.send_response(403)
        self.send_header("content-length", "0")
        self.end_headers()

    do_CONNECT = do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        return


class _TrapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TrapHandler)
        self.seen: list[str] = []


class NetworkTrap:
    """An HTTP proxy on loopback that refuses everything and remembers what was asked of it."""

    def __init__(self) -> None:
        self._server = _TrapServer()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def seen(self) -> list[str]:
        return list(self._server.seen)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> NetworkTrap:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def require_client(name: str) -> Path:
    """The installed client ``name`` (a program in tests/clients/node_modules/.bin)."""
    path = _BIN / name
    require_tool(path.exists(), f"{name} (npm ci in tests/clients)")
    return path


def agent_env(home: Path, trap: NetworkTrap, **extra: str) -> dict[str, str]:
    """A clean environment: a fresh home, the clients' quiet switches, every proxy variable on the
    trap (loopback excepted) and nothing from the caller's shell but where node is."""
    node = shutil.which("node")
    require_tool(node is not None, "Node 20 (node)")
    assert node is not None
    config = home / ".config"
    # OpenCode installs its plugin SDK into its config directory in the background unless the
    # directory's manifest and lock already list it: seeded here, so nothing is fetched.
    seeded = config / "opencode"
    (seeded / "node_modules").mkdir(parents=True, exist_ok=True)
    plugin = {"@opencode-ai/plugin": "*"}
    (seeded / "package.json").write_bytes(orjson.dumps({"dependencies": plugin}))
    (seeded / "package-lock.json").write_bytes(
        orjson.dumps({"lockfileVersion": 3, "packages": {"": {"dependencies": plugin}}})
    )
    env = {
        "PATH": os.pathsep.join([str(_BIN), str(Path(node).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "CODEX_HOME": str(home / ".codex"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **_QUIET,
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = trap.url
    env.update(extra)
    return env


def run_agent(
    command: list[str] | str, *, cwd: Path, env: dict[str, str], timeout: float = 150
) -> subprocess.CompletedProcess[str]:
    """Run a client (a list, or a bash script for README commands) and return what it printed."""
    argv = ["bash", "-c", command] if isinstance(command, str) else command
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def tool_round_trips(bodies: list[Any]) -> list[tuple[str, str]]:
    """(tool name, call id) of each tool call whose result came back, in an upstream's requests
    (OpenAI chat, Anthropic messages or OpenAI responses): the call in an assistant turn (or a
    ``function_call`` item), its result in a later one (a ``function_call_output``)."""
    calls: dict[str, str] = {}
    answered: list[tuple[str, str]] = []
    for body in bodies:
        items = body.get("input") if isinstance(body, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "function_call":
                calls[item["call_id"]] = item["name"]
            elif item.get("type") == "function_call_output" and item.get("call_id") in calls:
                answered.append((calls[item["call_id"]], item["call_id"]))
        for message in body.get("messages", []) if isinstance(body, dict) else []:
            if not isinstance(message, dict):
                continue
            for call in message.get("tool_calls") or []:
                calls[call["id"]] = call["function"]["name"]
            if message.get("role") == "tool" and message.get("tool_call_id") in calls:
                answered.append((calls[message["tool_call_id"]], message["tool_call_id"]))
            content = message.get("content")
            for block in content if isinstance(content, list) else []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use":
                    calls[block["id"]] = block["name"]
                elif block.get("type") == "tool_result" and block.get("tool_use_id") in calls:
                    answered.append((calls[block["tool_use_id"]], block["tool_use_id"]))
    return list(dict.fromkeys(answered))


#: Codex's switches for its update check, analytics, feedback and plugin sync (GitHub and
#: chatgpt.com), as top-level dotted keys so they can go in front of any config.toml.
CODEX_QUIET = """check_for_update_on_startup = false
analytics.enabled = false
feedback.enabled = false
features.plugins = false
"""


def codex_config(base_url: str, model: str) -> str:
    """A Codex ``config.toml`` as the README prints it (a provider at the gateway speaking the
    Responses API, the key in ``BASTION_API_KEY``), after :data:`CODEX_QUIET`."""
    return f"""{CODEX_QUIET}model = "{model}"
model_provider = "bastion"
web_search = "disabled"
features.multi_agent = false

[model_providers.bastion]
name = "Bastion"
base_url = "{base_url}/v1"
env_key = "BASTION_API_KEY"
wire_api = "responses"
"""
