"""Client keys: where a key is read from, and how the master and static keys resolve to principals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from bastion.auth.keys import KeyRing, extract_key, hash_key
from bastion.domain.errors import AuthenticationError
from bastion.settings import load_settings

_MASTER = "sk-master-unit-0123456789"
_STATIC = "sk-static-unit-9876543210"
_OTHER = "sk-other-unit-5555555555"


def make_keyring(
    tmp_path: Path, general: dict[str, Any] | None = None, bastion: dict[str, Any] | None = None
) -> KeyRing:
    """Write a config with one model group and the given sections, and build its KeyRing."""
    config: dict[str, Any] = {
        "model_list": [
            {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4.1-mini", "api_key": "x"}}
        ]
    }
    if general is not None:
        config["general_settings"] = general
    if bastion is not None:
        config["bastion_settings"] = bastion
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return KeyRing(load_settings(path, environ={}))


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer a", "x-api-key": "b", "api-key": "c", "x-goog-api-key": "d"}, "e", "a"),
        ({"x-api-key": "b", "api-key": "c", "x-goog-api-key": "d"}, "e", "b"),
        ({"api-key": "c", "x-goog-api-key": "d"}, "e", "c"),
        ({"x-goog-api-key": "d"}, "e", "d"),
        ({}, "e", "e"),
        ({}, None, None),
        ({}, "", None),
    ],
    ids=["bearer", "x-api-key", "api-key", "x-goog-api-key", "query", "none", "empty-query"],
)
def test_key_sources_in_precedence_order(
    headers: dict[str, str], query: str | None, expected: str | None
) -> None:
    """Bearer wins, then x-api-key, api-key, x-goog-api-key, and ?key= last."""
    assert extract_key(headers, query) == expected


def test_bearer_scheme_is_case_insensitive_and_token_trimmed() -> None:
    """``bearer`` in any case is accepted and spaces around the token are dropped."""
    assert extract_key({"authorization": "bEaReR   tok-1  "}, None) == "tok-1"


@pytest.mark.parametrize("auth", ["Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer    ", "sk-raw-key"])
def test_non_bearer_authorization_is_ignored(auth: str) -> None:
    """An Authorization header that is not a non-empty Bearer falls through to the other sources."""
    assert extract_key({"authorization": auth, "x-api-key": "from-header"}, None) == "from-header"
    assert extract_key({"authorization": auth}, "from-query") == "from-query"


def test_empty_header_values_fall_through() -> None:
    """An empty x-api-key does not hide a key sent in a later header."""
    assert extract_key({"x-api-key": "", "x-goog-api-key": "g"}, None) == "g"


def test_master_key_is_an_admin(tmp_path: Path) -> None:
    """The master key resolves to the admin principal, labelled without the key."""
    ring = make_keyring(tmp_path, general={"master_key": _MASTER})
    principal = asyncio.run(ring.authenticate(_MASTER))
    assert principal.kind == "master"
    assert principal.is_admin
    assert principal.key_hash == hash_key(_MASTER)
    assert not ring.open


def test_static_key_has_its_alias_and_models(tmp_path: Path) -> None:
    """A static key resolves to its alias and model list, and is not an admin."""
    ring = make_keyring(
        tmp_path,
        general={"master_key": _MASTER},
        bastion={"static_keys": [{"key": _STATIC, "alias": "team-a", "models": ["gpt"]}]},
    )
    principal = asyncio.run(ring.authenticate(_STATIC))
    assert principal.kind == "static_key"
    assert principal.label == "team-a"
    assert principal.models == frozenset({"gpt"})
    assert not principal.is_admin
    assert principal.may_use("gpt")
    assert not principal.may_use("claude")


def test_static_key_without_alias_is_labelled_by_hash_prefix(tmp_path: Path) -> None:
    """A static key with no alias gets a label from its hash, never from the key itself."""
    ring = make_keyring(tmp_path, bastion={"static_keys": [{"key": _STATIC}]})
    principal = asyncio.run(ring.authenticate(_STATIC))
    assert principal.label == f"key-{hash_key(_STATIC)[:8]}"
    assert _STATIC not in principal.label
    assert not ring.open


def test_unknown_key_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    """A wrong key raises AuthenticationError whose message does not contain that key."""
    ring = make_keyring(tmp_path, general={"master_key": _MASTER})
    with pytest.raises(AuthenticationError) as caught:
        asyncio.run(ring.authenticate(_OTHER))
    assert caught.value.status == 401
    assert caught.value.code == "invalid_api_key"
    assert _OTHER not in str(caught.value)
    assert _MASTER not in str(caught.value)


def test_missing_key_is_rejected_when_keys_are_configured(tmp_path: Path) -> None:
    """No key at all raises AuthenticationError when a master key is configured."""
    ring = make_keyring(tmp_path, general={"master_key": _MASTER})
    with pytest.raises(AuthenticationError, match="No API key"):
        asyncio.run(ring.authenticate(None))


def test_open_mode_without_master_or_static_keys(tmp_path: Path) -> None:
    """With neither a master key nor static keys, any key or none is let in as anonymous."""
    ring = make_keyring(tmp_path)
    assert ring.open
    for key in (None, _OTHER):
        principal = asyncio.run(ring.authenticate(key))
        assert principal.kind == "anonymous"
        assert not principal.is_admin
        assert principal.may_use("anything")


def test_a_jwt_without_jwt_auth_is_told_what_is_missing(tmp_path: Path) -> None:
    """A token sent to a gateway that takes none is an unknown key, with a hint, and not echoed."""
    ring = make_keyring(tmp_path, general={"master_key": _MASTER})
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
    with pytest.raises(AuthenticationError, match="jwt_auth is not configured") as caught:
        asyncio.run(ring.authenticate(token))
    assert token not in caught.value.message


def test_hash_key_is_sha256_hex() -> None:
    """Keys are stored as the hex SHA-256 of the key, as LiteLLM does."""
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
