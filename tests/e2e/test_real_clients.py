"""The real clients, pinned in tests/clients and installed by ``make js-deps``, against a real
gateway: Claude Code (``claude -p``), OpenCode (``opencode run``), Codex (``codex exec``, the
Responses API) and the Vercel AI SDK (its default provider, on the Responses API, and its chat
providers: ``openai.chat``, ``@ai-sdk/openai-compatible``, ``@ai-sdk/anthropic``), each on a
pass-through group and a translated group with one tool round trip, and the README's Claude Code,
OpenCode and Codex sections run exactly as printed on the demo.

The mock upstream calls the first tool it is offered, with ``{"city": "Oslo"}``, when the last user
text says ``use_tool``, and answers in words once the result is back. The agents' own tools reject
that input; the call and its (error) result still make the round trip through the gateway, which is
what is checked: the tool call reaches the client, and its result comes back to the upstream with
the call's id. The AI SDK's tool takes a city, so there the tool really runs.

No client reaches beyond loopback: every proxy variable points at a trap that fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_docs_examples import DOCUMENTED_URL, ROOT, Block, console_steps, fenced_blocks

from bastion.admin import opencode_config
from bastion.settings import load_settings
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, deployment
from support.agents import (
    CLIENTS_DIR,
    CODEX_QUIET,
    NetworkTrap,
    agent_env,
    codex_config,
    require_client,
    run_agent,
    tool_round_trips,
)
from support.node import require_tool

#: An agent starts in a few seconds, but a loaded machine can stretch that past the usual 60 s.
pytestmark = pytest.mark.timeout(180)

#: The mock upstream's answer of 12 words, as the agents print it.
MOCK_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima"
#: (group, protocol the upstream speaks): Anthropic clients pass through to 'claude' and are
#: translated on 'gpt'; OpenAI clients the other way round.
GROUPS = {"claude": "anthropic", "gpt": "openai"}


@pytest.fixture
def trap() -> Iterator[NetworkTrap]:
    with NetworkTrap() as trap:
        yield trap
        assert trap.seen == [], f"a client tried to leave loopback: {trap.seen}"


@pytest.fixture
def agents_gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    return start_gateway(
        {
            "model_list": [
                deployment("claude", "anthropic/claude-sonnet-4-5", upstream.url),
                # responses_api: /v1/responses calls pass through to the upstream's own.
                deployment("gpt", "openai/gpt-4.1-mini", upstream.url + "/v1", responses_api=True),
            ],
            "router_settings": {"num_retries": 0},
        }
    )


def _generation_bodies(upstream: MockUpstream) -> list[Any]:
    paths = ("/messages", "/chat/completions", "/responses")
    return [r.body for r in upstream.requests if r.path.endswith(paths)]


def _check_round_trip(
    upstream: MockUpstream, group: str, tool: str | None = None, *, responses: bool = False
) -> None:
    """The upstream of ``group`` offered tools, called one, and got its result back with its id
    (on ``/responses`` when a Responses API client's call passes through)."""
    bodies = _generation_bodies(upstream)
    assert len(bodies) >= 2, f"expected a tool call and the call with its result, got {len(bodies)} requests"
    trips = tool_round_trips(bodies)
    assert trips, "no tool result came back to the upstream"
    if tool is not None:
        assert trips[0][0] == tool
    paths = {r.path for r in upstream.requests}
    wanted = (
        "/messages" if GROUPS[group] == "anthropic" else "/responses" if responses else "/chat/completions"
    )
    assert any(p.endswith(wanted) for p in paths), paths


# ---------------------------------------------------------------------------------- Claude Code


@pytest.mark.parametrize("group", ["claude", "gpt"], ids=["pass-through", "translated"])
def test_claude_code_tool_round_trip(
    group: str, agents_gateway: RunningGateway, upstream: MockUpstream, trap: NetworkTrap, tmp_path: Path
) -> None:
    """``claude -p`` on a group: the mock's tool call reaches Claude Code, its result reaches the
    upstream with the call's id, and Claude Code prints the answer that follows."""
    claude = require_client("claude")
    env = agent_env(
        tmp_path / "home",
        trap,
        ANTHROPIC_BASE_URL=agents_gateway.url,
        ANTHROPIC_AUTH_TOKEN=MASTER_KEY,
        ANTHROPIC_MODEL=group,
    )
    done = run_agent([str(claude), "-p", "use_tool"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert MOCK_WORDS in done.stdout
    _check_round_trip(upstream, group)


# ---------------------------------------------------------------------------------- OpenCode


@pytest.mark.parametrize("group", ["claude", "gpt"], ids=["pass-through", "translated"])
def test_opencode_tool_round_trip(
    group: str, agents_gateway: RunningGateway, upstream: MockUpstream, trap: NetworkTrap, tmp_path: Path
) -> None:
    """``opencode run`` with the config ``bastion opencode-config`` prints, on a group: one tool
    round trip through the gateway, then the answer."""
    opencode = require_client("opencode")
    project = tmp_path / "project"
    project.mkdir()
    (project / "opencode.json").write_bytes(orjson.dumps(opencode_config(agents_gateway.url, model=group)))
    env = agent_env(tmp_path / "home", trap, ANTHROPIC_API_KEY=MASTER_KEY)
    done = run_agent([str(opencode), "run", "use_tool"], cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert MOCK_WORDS in done.stdout
    _check_round_trip(upstream, group)


# ---------------------------------------------------------------------------------- Codex


@pytest.mark.parametrize("group", ["gpt", "claude"], ids=["pass-through", "translated"])
def test_codex_tool_round_trip(
    group: str, agents_gateway: RunningGateway, upstream: MockUpstream, trap: NetworkTrap, tmp_path: Path
) -> None:
    """``codex exec`` (the Responses API only) on a group: one tool round trip through the gateway,
    then the answer; on the OpenAI group the calls pass through to the upstream's /responses."""
    codex = require_client("codex")
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(codex_config(agents_gateway.url, group))
    env = agent_env(home, trap, BASTION_API_KEY=MASTER_KEY)
    project = tmp_path / "project"
    project.mkdir()
    done = run_agent([str(codex), "exec", "--skip-git-repo-check", "use_tool"], cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert MOCK_WORDS in done.stdout
    _check_round_trip(upstream, group, responses=group == "gpt")


# ---------------------------------------------------------------------------------- the AI SDK


@pytest.mark.parametrize(
    ("provider", "group"),
    [
        ("openai", "gpt"),
        ("openai", "claude"),
        ("openai-chat", "gpt"),
        ("openai-chat", "claude"),
        ("openai-compatible", "gpt"),
        ("openai-compatible", "claude"),
        ("anthropic", "claude"),
        ("anthropic", "gpt"),
    ],
)
def test_ai_sdk_tool_round_trip(
    provider: str,
    group: str,
    agents_gateway: RunningGateway,
    upstream: MockUpstream,
    trap: NetworkTrap,
    tmp_path: Path,
) -> None:
    """generateText, then streamText, with a weather tool: each runs it once with the mock's city,
    the result goes back through the gateway, and the final text is the mock's answer."""
    require_tool((CLIENTS_DIR / "node_modules" / "ai").is_dir(), "the AI SDK (npm ci in tests/clients)")
    env = agent_env(tmp_path / "home", trap, BASTION_URL=agents_gateway.url, BASTION_KEY=MASTER_KEY)
    done = run_agent(["node", str(CLIENTS_DIR / "ai-sdk.mjs"), provider, group], cwd=CLIENTS_DIR, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [run["mode"] for run in runs] == ["whole", "stream"]
    for run in runs:
        assert run["cities"] == ["Oslo"], run
        assert run["finishReasons"] == ["tool-calls", "stop"], run
        assert run["text"].startswith("alpha bravo charlie"), run
    _check_round_trip(upstream, group, "weather", responses=provider == "openai")
    assert len(tool_round_trips(_generation_bodies(upstream))) == 2


# ---------------------------------------------------------------------------------- the README


def _coding_agents_section() -> list[Block]:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("\n### Coding agents\n")
    end = text.index("\n#", start + 5)
    first_line = text.count("\n", 0, start) + 1
    last_line = text.count("\n", 0, end) + 1
    return [b for b in fenced_blocks(readme) if first_line < b.line < last_line]


def _runnable(block: Block) -> str:
    """The block's commands as one bash script, the documented URL left for the caller to replace."""
    return "\n".join(command for command, _ in console_steps(block.code))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningGateway]:
    settings = load_settings(
        ROOT / "examples" / "demo.yaml", environ={"BASTION_DATA_DIR": str(tmp_path / "demo")}
    )
    with RunningGateway(settings) as gateway:
        yield gateway


def _run_readme_block(block: Block, gateway: RunningGateway, cwd: Path, env: dict[str, str]) -> None:
    script = _runnable(block).replace(DOCUMENTED_URL, gateway.url)
    done = run_agent(script, cwd=cwd, env=env)
    assert done.returncode == 0, f"{block.name}\n{done.stdout}\n{done.stderr}"
    printed = [line.strip() for line in (done.stdout + done.stderr).splitlines()]
    for _, shown in console_steps(block.code):
        for line in shown:
            assert line in printed, f"{block.name}: expected {line!r} in {printed}"


def test_readme_claude_code_section_runs_as_printed(
    demo: RunningGateway, trap: NetworkTrap, tmp_path: Path
) -> None:
    """The README's Claude Code commands, as printed, answer on the demo and print what it shows."""
    require_client("claude")
    blocks = [b for b in _coding_agents_section() if b.language == "console" and "claude" in b.code]
    assert len(blocks) == 1
    assert re.search(r"^\$ claude -p ", blocks[0].code, re.M), "the README shows a non-interactive run"
    _run_readme_block(blocks[0], demo, tmp_path, agent_env(tmp_path / "home", trap))
    assert demo.request_records()[-1]["model_group"] == "mock-claude"


def test_readme_opencode_section_runs_as_printed(
    demo: RunningGateway, trap: NetworkTrap, tmp_path: Path
) -> None:
    """The README's opencode.json, saved as shown, and its commands answer on the demo; the JSON is
    what ``bastion opencode-config`` prints for the demo."""
    require_client("opencode")
    section = _coding_agents_section()
    config = next(b for b in section if b.language == "json")
    assert orjson.loads(config.code) == opencode_config(DOCUMENTED_URL)
    commands = next(b for b in section if b.language == "console" and "opencode run" in b.code)
    project = tmp_path / "project"
    project.mkdir()
    (project / "opencode.json").write_text(config.code.replace(DOCUMENTED_URL, demo.url))
    _run_readme_block(commands, demo, project, agent_env(tmp_path / "home", trap))
    assert demo.request_records()[-1]["model_group"] == "mock-claude"


def test_readme_codex_section_runs_as_printed(
    demo: RunningGateway, trap: NetworkTrap, tmp_path: Path
) -> None:
    """The README's Codex config, saved as ~/.codex/config.toml, and its commands answer on the demo."""
    require_client("codex")
    section = _coding_agents_section()
    config = next(b for b in section if b.language == "toml")
    commands = next(b for b in section if b.language == "console" and "codex exec" in b.code)
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    # The README's config as printed, after the switches that keep a test offline.
    config_text = CODEX_QUIET + config.code.replace(DOCUMENTED_URL, demo.url)
    (home / ".codex" / "config.toml").write_text(config_text)
    assert config_text == codex_config(demo.url, "mock-gpt"), "the README's config is what the tests use"
    project = tmp_path / "project"
    project.mkdir()
    _run_readme_block(commands, demo, project, agent_env(home, trap))
    assert demo.request_records()[-1]["model_group"] == "mock-gpt"
