"""The key a call uses: the user's own, the stored system key, the config's; by mode."""

from __future__ import annotations

import pytest

from bastion.domain.secret import Secret
from bastion.gateway.credentials import CredentialChooser, MissingProviderKeyError, SystemKeys
from bastion.settings import Deployment


def dep(alias: str, key: str | None = None) -> Deployment:
    protocol = {"gemini": "gemini", "anthropic": "anthropic"}.get(alias, "openai")
    return Deployment("g", protocol, alias, "m", Secret(key) if key else None, "http://x", "id")


def chooser(mode: str = "optional", **system: str) -> CredentialChooser:
    keys = SystemKeys()
    keys.replace_all({name: Secret(value) for name, value in system.items()})
    return CredentialChooser(keys, user_keys=mode)


def used(choice: tuple[Deployment, bool]) -> tuple[str | None, bool]:
    d, own = choice
    return (d.api_key.reveal() if d.api_key else None), own


def test_priority() -> None:
    mine = {"anthropic": Secret("user")}
    assert used(chooser(anthropic="sys").choose(dep("anthropic", "cfg"), mine)) == ("user", True)
    assert used(chooser(anthropic="sys").choose(dep("anthropic", "cfg"), {})) == ("sys", False)
    assert used(chooser().choose(dep("anthropic", "cfg"), {})) == ("cfg", False)
    with pytest.raises(MissingProviderKeyError, match="anthropic"):
        chooser().choose(dep("anthropic"), {})
    # Not an account user: no error, the deployment as configured (the upstream decides).
    assert used(chooser().choose(dep("anthropic"), None)) == (None, False)
    assert used(chooser(anthropic="sys").choose(dep("anthropic"), None)) == ("sys", False)


def test_user_keys_never_reach_other_servers() -> None:
    """A user's OpenAI key is for OpenAI: a vLLM or OpenRouter deployment keeps its own key."""
    mine = {"openai": Secret("user")}
    assert used(chooser().choose(dep("hosted_vllm", "cfg"), mine)) == ("cfg", False)
    assert used(chooser().choose(dep("openrouter"), mine)) == (None, False)
    assert used(chooser().choose(dep("gemini"), {"google": Secret("g")})) == ("g", True)


def test_modes() -> None:
    mine = {"openai": Secret("user")}
    assert used(chooser("disabled").choose(dep("openai", "cfg"), mine)) == ("cfg", False)
    assert used(chooser("required").choose(dep("openai", "cfg"), mine)) == ("user", True)
    with pytest.raises(MissingProviderKeyError, match="requires your own openai"):
        chooser("required", openai="sys").choose(dep("openai", "cfg"), {})
    assert chooser("required").available(dep("hosted_vllm"), {})
