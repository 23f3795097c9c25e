"""What ``bastion serve`` prints: every line of its banner works when copied, and a busy port is one line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.serve import BASTION, free_port

ROOT = Path(__file__).resolve().parents[2]
MOCK_ANSWER = "This is a mock response from Bastion."
#: Variables the SDKs read on their own: a banner line must work whatever the caller's shell holds.
SDK_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


class Served:
    """A ``bastion serve`` child process and the banner it printed once listening."""

    def __init__(self, config: Path | str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [BASTION, "serve", "--config", str(config), "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("# stop with"):
                break
        else:
            raise AssertionError("bastion serve exited before it listened:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=30)


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.stop()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SDK_VARIABLES and k != "BASTION_KEY"}
    env.update(extra)
    return env


def _run_line(line: str, env: dict[str, str]) -> str:
    """Run one banner line as a user would: a shell command in bash, a Python line in Python."""
    argv = ["bash", "-c", line] if line.startswith("curl ") else [sys.executable, "-c", line]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_line_of_the_demo_banner_works_as_printed(served: list[Served], tmp_path: Path) -> None:
    """On the demo config: the curl and Python lines answer, the addresses open, the logins work."""
    server = Served("examples/demo.yaml", _clean_env(BASTION_DATA_DIR=str(tmp_path)))
    served.append(server)
    base = f"http://localhost:{server.port}"
    commands = [line for line in server.lines if not line.startswith("#")]
    assert [line.split()[0] for line in commands] == ["curl", "from"], server.lines
    for line in commands:
        out = _run_line(line, _clean_env())
        assert MOCK_ANSWER in out, out
    text = "\n".join(server.lines)
    assert f"{base}/ui" in text and f"{base}/examples/browser/" in text
    assert str(tmp_path) in text  # the data directory
    comments = "\n".join(line for line in server.lines if line.startswith("#"))
    for url in sorted(set(re.findall(r"http://localhost:\d+/\S*", comments))):
        with urllib.request.urlopen(url.rstrip(").,"), timeout=10) as response:
            assert response.status == 200, url  # the dashboard answers with its login page
    login = re.search(r"(\S+@\S+) / (\S+)\)", text)
    assert login is not None, "the banner names the demo's superuser and password"
    form = f"username={login.group(1)}&password={login.group(2)}".encode()
    with urllib.request.urlopen(f"{base}/v2/login/access-token", data=form, timeout=10) as response:
        assert json.loads(response.read())["access_token"]


def test_a_master_key_from_the_environment_is_never_printed(served: list[Served], tmp_path: Path) -> None:
    """With a real master key the lines read it from $BASTION_KEY (double quotes) and still work."""
    secret = "sk-banner-test-" + os.urandom(8).hex()
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: mock-gpt\n    litellm_params:\n      model: mock/echo\n"
        "general_settings:\n  master_key: os.environ/BANNER_TEST_MASTER_KEY\n"
    )
    server = Served(config, _clean_env(BANNER_TEST_MASTER_KEY=secret))
    served.append(server)
    text = "\n".join(server.lines)
    assert secret not in text
    assert '-H "Authorization: Bearer $BASTION_KEY"' in text and 'os.environ["BASTION_KEY"]' in text
    assert "export BASTION_KEY=" in text
    for line in (line for line in server.lines if not line.startswith("#")):
        assert MOCK_ANSWER in _run_line(line, _clean_env(BASTION_KEY=secret))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_one_line_a_failure_status_and_no_banner(tmp_path: Path, workers: str) -> None:
    """Another program on the port: one line saying so, exit status 1, nothing on standard output;
    with ``--workers 2`` too (the port is taken before the supervisor starts)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [BASTION, "serve", "--config", "examples/demo.yaml", "--port", str(port), "--workers", workers],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(BASTION_DATA_DIR=str(tmp_path)),
        )
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"bastion: cannot listen on 127.0.0.1:{port}: the port is already in use")
    assert not list(tmp_path.iterdir()), "nothing was started: no database, no secret file"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_route_collision_stops_serve_before_it_takes_the_port(tmp_path: Path, workers: str) -> None:
    """A browser path on the OpenAI chat route: the problem line and exit status 2, checked before
    the port (held here by another program, which would be status 1), with one worker or two."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n"
        "bastion_settings:\n  browser:\n    openai_path: /v1/chat/completions\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [BASTION, "serve", "--config", str(config), "--port", str(port), "--workers", workers],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(BASTION_DATA_DIR=str(tmp_path / "data")),
        )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("bastion: ") and "openai_path" in line and "POST /v1/chat/completions" in line
    assert not list((tmp_path / "data").glob("*")), "nothing was started: no database, no secret file"


def test_the_demo_secrets_the_banner_may_print_are_the_published_ones() -> None:
    """Only values written in examples/demo.yaml are ever printed; a changed demo must update the list."""
    from bastion.commands.serving import DEMO_SECRETS

    demo = (ROOT / "examples" / "demo.yaml").read_text()
    for value in DEMO_SECRETS:
        assert re.search(rf":\s+{re.escape(value)}\s*$", demo, flags=re.M), value
