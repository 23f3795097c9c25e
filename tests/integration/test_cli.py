"""The ``bastion`` command as an operator runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASTION = str(Path(sys.executable).with_name("bastion"))
DEMO_KEY = "sk-bastion-demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chat(port: int, key: str = DEMO_KEY) -> dict[str, object]:
    body = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture
def serve() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def start(args: list[str], procs: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if "examples/demo.yaml" in args:
        # The demo's state (SQLite file, spend journal, signing secret) goes elsewhere, never in examples/.
        env["BASTION_DATA_DIR"] = tempfile.mkdtemp(prefix="bastion-cli-state-")
    proc = subprocess.Popen(
        [BASTION, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    procs.append(proc)
    return proc


def wait_for_banner(proc: subprocess.Popen[str]) -> list[str]:
    """Read ``bastion serve``'s standard output until its banner is complete (it is listening)."""
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("# stop with"):
            return seen
    raise AssertionError("the server exited before it listened:\n" + "".join(seen))


def test_serve_demo_answers_and_stops_cleanly(serve: list[subprocess.Popen[str]]) -> None:
    """``bastion serve`` on the demo config serves the mock models and a SIGTERM stops it cleanly."""
    port = free_port()
    proc = start(["serve", "--config", "examples/demo.yaml", "--port", str(port)], serve)
    wait_for_banner(proc)
    answer = chat(port)
    assert answer["object"] == "chat.completion"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0  # a graceful stop, with every queued log line written
    assert "shutdown complete" in err


def test_workers_share_one_port(serve: list[subprocess.Popen[str]]) -> None:
    """``--workers 2`` starts two processes on one port; /metrics sums what both served; the banner
    is printed once, when both workers have started."""
    port = free_port()
    proc = start(["serve", "--config", "examples/demo.yaml", "--port", str(port), "--workers", "2"], serve)
    wait_for_banner(proc)  # the supervisor prints it once both workers accept
    for _ in range(6):
        chat(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    line = next(
        x for x in text.splitlines() if x.startswith("bastion_requests_total{") and 'status="200"' in x
    )
    assert line.endswith(" 6.0")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert err.count("accepting connections on") == 2 and err.count("shutdown complete") == 2
    assert "# stop with" not in out  # not a second time


def test_bad_config_stops_start_up_with_one_clear_line(tmp_path: Path) -> None:
    """A misspelt key stops ``bastion serve`` with the file, line, key path and a suggestion."""
    config = tmp_path / "bad.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n"
        "general_settings:\n  mastr_key: sk-1\n"
    )
    result = subprocess.run(
        [BASTION, "serve", "--config", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{config}:6" in lines[0] and "general_settings.mastr_key" in lines[0] and "master_key" in lines[0]


def test_missing_environment_variable_is_named(tmp_path: Path) -> None:
    """An os.environ/ reference to an unset variable names the variable and where it was used."""
    config = tmp_path / "env.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: anthropic/claude\n"
        "      api_key: os.environ/BASTION_TEST_UNSET_KEY\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BASTION_TEST_UNSET_KEY"}
    result = subprocess.run(
        [BASTION, "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 2
    assert (
        "BASTION_TEST_UNSET_KEY" in result.stderr and "model_list[0].litellm_params.api_key" in result.stderr
    )


def test_check_config_accepts_the_seed_config() -> None:
    """The Proliferate seed's LiteLLM config loads unchanged."""
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": "sk-master",
        "DATABASE_URL": "postgresql://x",
        "ANTHROPIC_API_KEY": "k",
    }
    result = subprocess.run(
        [BASTION, "check-config", "--config", "examples/proliferate.yaml"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_migrate_and_create_a_key_then_use_it(tmp_path: Path, serve: list[subprocess.Popen[str]]) -> None:
    """``bastion migrate``, ``bastion teams create`` and ``bastion keys create`` work without a
    server; the key then works."""
    config = tmp_path / "gw.yaml"
    config.write_text(
        "model_list:\n  - model_name: mock-gpt\n    litellm_params:\n      model: mock/echo\n"
        "general_settings:\n  master_key: sk-cli-master-000\n"
    )
    migrated = subprocess.run(
        [BASTION, "migrate", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout and (tmp_path / "bastion.db").exists()
    team = subprocess.run(
        [BASTION, "teams", "create", "--config", str(config), "--id", "org-1", "--models", "mock-gpt"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert team.returncode == 0, team.stderr
    assert json.loads(team.stdout)["models"] == ["mock-gpt"]
    made = subprocess.run(
        [
            BASTION,
            "keys",
            "create",
            "--config",
            str(config),
            "--team",
            "org-1",
            "--user",
            "sess-1",
            "--duration",
            "1h",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["key"].startswith("sk-") and created["key_name"] == "sk-..." + created["key"][-4:]
    assert created["team_id"] == "org-1" and created["expires"] is not None
    port = free_port()
    proc = start(["serve", "--config", str(config), "--port", str(port)], serve)
    wait_for_banner(proc)
    assert chat(port, key=created["key"])["object"] == "chat.completion"


def test_state_goes_to_the_data_dir(tmp_path: Path) -> None:
    """With BASTION_DATA_DIR (a container's volume) the database is there, not beside the config."""
    config_dir, data_dir = tmp_path / "etc", tmp_path / "var" / "bastion"
    config_dir.mkdir()
    config = config_dir / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: mock-gpt\n    litellm_params:\n      model: mock/echo\n"
        "general_settings:\n  master_key: sk-cli-master-000\n"
    )
    env = {**os.environ, "BASTION_DATA_DIR": str(data_dir)}
    for command in (["migrate"], ["teams", "create", "--id", "org-1"], ["keys", "create", "--team", "org-1"]):
        done = subprocess.run(
            [BASTION, *command, "--config", str(config)], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, done.stderr
    assert not (config_dir / "bastion.db").exists()
    with sqlite3.connect(data_dir / "bastion.db") as db:
        assert db.execute("SELECT team_id FROM verification_tokens").fetchall() == [("org-1",)]


def test_opencode_config_prints_the_seed_config() -> None:
    """``bastion opencode-config`` prints OpenCode's JSON (baseURL with /v1) and both env blocks."""
    out = subprocess.run(
        [BASTION, "opencode-config", "--key", "sk-abc-123456789", "--url", "https://gw.example.com"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert '"baseURL": "https://gw.example.com/v1"' in out
    assert "ANTHROPIC_API_KEY=sk-abc-123456789" in out
    assert (
        "ANTHROPIC_BASE_URL=https://gw.example.com\n" in out
        and "ANTHROPIC_AUTH_TOKEN=sk-abc-123456789" in out
    )
    # By default both agents use a model group the demo has.
    assert '"model": "anthropic/mock-claude"' in out and '"small_model": "anthropic/mock-claude"' in out
    assert "ANTHROPIC_MODEL=mock-claude\n" in out


def test_check_config_refuses_a_browser_path_that_takes_over_an_openai_route(tmp_path: Path) -> None:
    """``browser.openai_path: /v1/chat/completions`` would answer plain OpenAI calls with a token
    stream: check-config refuses it, naming the setting and the route it collides with."""
    config = tmp_path / "collide.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n"
        "bastion_settings:\n  browser:\n    openai_path: /v1/chat/completions\n"
    )
    result = subprocess.run(
        [BASTION, "check-config", "--config", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2, result.stdout
    assert "bastion_settings.browser.openai_path" in result.stderr
    assert "POST /v1/chat/completions" in result.stderr
