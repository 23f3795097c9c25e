"""``bastion opencode-config``: what a sandbox needs to use Bastion (the Proliferate seed's Part B)."""

from __future__ import annotations

import shlex

import orjson

from bastion.admin import claude_code_env, opencode_config

__all__ = ["print_sandbox_config"]


def print_sandbox_config(url: str, key: str, model: str) -> int:
    print("# opencode.json")
    print(orjson.dumps(opencode_config(url, model=model), option=orjson.OPT_INDENT_2).decode())
    print("\n# OpenCode environment (its anthropic provider sends this as x-api-key)")
    print(f"ANTHROPIC_API_KEY={shlex.quote(key)}")
    print(f"ANTHROPIC_BASE_URL={shlex.quote(url.rstrip('/') + '/v1')}")
    print("\n# Claude Code environment (base URL without /v1; the key as a bearer token)")
    for name, value in claude_code_env(url, key, model).items():
        print(f"{name}={shlex.quote(value)}")
    return 0
