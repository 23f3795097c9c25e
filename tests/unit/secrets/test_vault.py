"""Envelope encryption: round trips, bound contexts, key rotation, tampering, masking."""

from __future__ import annotations

import base64

import pytest

from bastion.domain.secret import Secret
from bastion.secrets import DecryptionError, Vault, VaultNotConfiguredError, mask_key
from bastion.secrets.envelope import derive_kek

OLD = Secret("old-encryption-key-0123456789abcdef-xyz")
NEW = Secret("new-encryption-key-0123456789abcdef-xyz")


def test_round_trip_and_fresh_ciphertexts() -> None:
    vault = Vault([OLD])
    first, second = (
        vault.encrypt("sk-ant-secret", "user:1:anthropic"),
        vault.encrypt("sk-ant-secret", "user:1:anthropic"),
    )
    assert first != second and "sk-ant-secret" not in first
    assert vault.decrypt(first, "user:1:anthropic") == "sk-ant-secret"


def test_context_is_bound() -> None:
    vault = Vault([OLD])
    sealed = vault.encrypt("sk-ant-secret", "user:1:anthropic")
    with pytest.raises(DecryptionError, match="integrity"):
        vault.decrypt(sealed, "user:2:anthropic")


def test_newest_key_encrypts_all_keys_decrypt() -> None:
    sealed_old = Vault([OLD]).encrypt("value", "c")
    both = Vault([NEW, OLD])
    assert both.decrypt(sealed_old, "c") == "value"
    assert both.needs_rotation(sealed_old)
    fresh = both.encrypt("value", "c")
    assert not both.needs_rotation(fresh)
    assert Vault([NEW]).decrypt(fresh, "c") == "value"
    with pytest.raises(DecryptionError, match="not configured any more"):
        Vault([NEW]).decrypt(sealed_old, "c")


@pytest.mark.parametrize("broken", ["plain-text", "v2.a.b.c", "v1.{kid}.AAAA.AAAA"])
def test_malformed_or_tampered_values_fail_cleanly(broken: str) -> None:
    vault = Vault([OLD])
    kid = vault.encrypt("x", "c").split(".")[1]
    with pytest.raises(DecryptionError):
        vault.decrypt(broken.format(kid=kid), "c")


def test_unconfigured_vault_refuses_to_store() -> None:
    with pytest.raises(VaultNotConfiguredError, match="ENCRYPTION_KEY"):
        Vault([]).encrypt("x", "c")


def test_a_base64_key_of_32_bytes_is_used_as_is() -> None:
    raw = bytes(range(32))
    assert derive_kek(base64.b64encode(raw).decode()) == raw
    assert len(derive_kek("a passphrase that is long enough to be used")) == 32


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-ant-api03-abcdefghijklwxyz", "sk-ant-...wxyz"),
        ("sk-proj-abcdefghijkl1234", "sk-proj-...1234"),
        ("sk-abcdefghijklmn5678", "sk-...5678"),
        ("AIzaSyabcdefghijkl9999", "AIza...9999"),
        ("short", "..."),
    ],
)
def test_masking(key: str, shown: str) -> None:
    assert mask_key(key) == shown
