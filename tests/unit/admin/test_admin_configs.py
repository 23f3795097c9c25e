"""The sandbox configs Bastion hands out: OpenCode's (baseURL with /v1) and Claude Code's (without)."""

from __future__ import annotations

from bastion.admin import claude_code_env, opencode_config


def test_opencode_config_points_the_anthropic_provider_at_v1() -> None:
    """OpenCode's Anthropic provider posts to {baseURL}/messages, so its baseURL ends in /v1; by
    default it uses the demo's mock-claude, declared in the provider block and as small_model."""
    config = opencode_config("https://gw.example.com/")
    assert config["provider"]["anthropic"]["options"]["baseURL"] == "https://gw.example.com/v1"
    assert config["provider"]["anthropic"]["models"] == {"mock-claude": {}}
    assert config["model"] == config["small_model"] == "anthropic/mock-claude"
    assert config["$schema"] == "https://opencode.ai/config.json"


def test_opencode_config_declares_a_provider_prefixed_group_by_its_bare_id() -> None:
    """A group named anthropic/NAME is declared as NAME: OpenCode sends the bare id, Bastion resolves it."""
    config = opencode_config("http://gw", model="anthropic/claude-sonnet-4-5")
    assert config["model"] == config["small_model"] == "anthropic/claude-sonnet-4-5"
    assert config["provider"]["anthropic"]["models"] == {"claude-sonnet-4-5": {}}


def test_claude_code_env_uses_the_root_and_a_bearer_token() -> None:
    """Claude Code appends /v1/messages itself and sends ANTHROPIC_AUTH_TOKEN as Bearer."""
    assert claude_code_env("https://gw.example.com/", "sk-abc") == {
        "ANTHROPIC_BASE_URL": "https://gw.example.com",
        "ANTHROPIC_AUTH_TOKEN": "sk-abc",
    }
    assert claude_code_env("http://gw", "sk-abc", "mock-claude")["ANTHROPIC_MODEL"] == "mock-claude"
