"""``bastion check-config`` as an operator runs it: every problem listed, warnings, counts in words."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.serve import BASTION

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def _check(config: Path | str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES and not k.startswith("CC_")}
    return subprocess.run(
        [BASTION, "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**environ, **env},
        check=False,
    )


def test_every_unset_variable_and_every_problem_is_listed(tmp_path: Path) -> None:
    """Three unset variables and two typos: five lines, a count, exit status 2."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: claude\n"
        "    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/CC_ANTHROPIC}\n"
        "  - model_name: gpt\n"
        "    litellm_params: {model: openai/gpt-4o, api_key: os.environ/CC_OPENAI}\n"
        "general_settings:\n"
        "  master_key: os.environ/CC_MASTER\n"
        "router_settings:\n"
        "  num_retrys: 2\n"
        "bastion_settings:\n"
        "  log_levl: info\n"
    )
    done = _check(config)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split(": ", 3)[2] for line in lines[:-1]] == [
        "model_list[0].litellm_params.api_key",
        "model_list[1].litellm_params.api_key",
        "general_settings.master_key",
        "router_settings.num_retrys",
        "bastion_settings.log_levl",
    ]
    assert all(line.startswith(f"bastion: {config}:") for line in lines[:-1])
    for variable in ("CC_ANTHROPIC", "CC_OPENAI", "CC_MASTER"):
        assert f"environment variable {variable} is not set" in done.stderr
    assert lines[-1] == f"{config}: 5 problems"
    assert done.stdout == ""


def test_a_deployment_with_no_key_anywhere_is_a_warning(tmp_path: Path) -> None:
    """An anthropic/ deployment with no api_key and no ANTHROPIC_API_KEY: OK, with a warning saying so."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: claude\n    litellm_params: {model: anthropic/claude-sonnet-4-5}\n"
    )
    done = _check(config)
    assert done.returncode == 0
    assert done.stdout == f"{config}: OK (1 deployment in 1 model group, 1 warning)\n"
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("bastion: warning: ") and "ANTHROPIC_API_KEY is not set" in warning
    with_key = _check(config, ANTHROPIC_API_KEY="sk-ant-check")
    assert with_key.returncode == 0 and with_key.stderr == ""
    assert with_key.stdout == f"{config}: OK (1 deployment in 1 model group)\n"


def test_the_demo_config_is_ok() -> None:
    done = _check("examples/demo.yaml")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "examples/demo.yaml: OK (3 deployments in 3 model groups)\n",
        "",
    )


def test_route_collisions_are_problems_each_on_its_own_line(tmp_path: Path) -> None:
    """Two browser paths on routes Bastion already serves: two problems, each naming its setting and
    the route it would take over, a count, exit status 2 (``bastion serve`` refuses the same)."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n"
        "bastion_settings:\n  browser:\n    openai_path: /v1/chat/completions\n"
        "    anthropic_path: /v1/messages\n"
    )
    done = _check(config)
    assert done.returncode == 2 and done.stdout == ""
    *problems, count = done.stderr.splitlines()
    assert count == f"{config}: 2 problems"
    assert len(problems) == 2 and all(line.startswith("bastion: ") for line in problems)
    assert any("openai_path" in line and "POST /v1/chat/completions" in line for line in problems)
    assert any("anthropic_path" in line and "POST /v1/messages" in line for line in problems)
