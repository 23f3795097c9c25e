"""The sandbox configs Bastion hands out: OpenCode's (baseURL with /v1) and Claude Code's (without)."""

from __future__ import annotations

from bastion.admin import claude_code_env, opencode_config


def test_opencode_config_points_the_anthropic_provider_at_v1() -> None:
    """OpenCode's Anthropic provider posts to {baseURL}/messages, so its baseURL ends in /v1."""
    config = opencode_config("https://gw.example.com/")
    assert config["provider"]["anthropic"]["options"]["baseURL"] == "https://gw.example.com/v1"
    assert config["model"] == "anthropic/claude-sonnet-4-5"
    assert config["$schema"] == "https://opencode.ai/config.json"


def test_claude_code_env_uses_the_root_and_a_bearer_token() -> None:
    """Claude Code appends /v1/messages itself and sends ANTHROPIC_AUTH_TOKEN as Bearer."""
    assert claude_code_env("https://gw.example.com/", "sk-abc") == {
        "ANTHROPIC_BASE_URL": "https://gw.example.com",
        "ANTHROPIC_AUTH_TOKEN": "sk-abc",
    }
