"""AES-256-GCM envelope encryption: a fresh data key per secret, wrapped by a key-encryption key.

A stored value is ``v1.<kek id>.<wrapped data key>.<ciphertext>`` (URL-safe base64 parts). The
data key encrypts the plaintext with AES-GCM and the row's ``context`` (``user:<id>:anthropic``)
as associated data, so a ciphertext copied to another row or user does not decrypt. The
key-encryption key (from ``ENCRYPTION_KEY``) wraps the data key. Key-encryption keys are
identified by a short hash of themselves, so a row names the key it needs; the first configured
key encrypts, every configured key decrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bastion.domain.errors import BastionError
from bastion.domain.secret import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# cryptography (~9 MiB) is imported by the functions that use it: a gateway without an encryption
# key (no stored provider keys) never loads it.

__all__ = ["DecryptionError", "Vault", "VaultNotConfiguredError", "derive_kek"]

_VERSION = "v1"
_NONCE = 12


class VaultNotConfiguredError(BastionError):
    """Storing a provider key needs an encryption key, and none is configured."""

    status = 503
    kind = "overloaded"

    def __init__(self) -> None:
        super().__init__(
            "Bastion cannot store provider keys: no encryption key is configured. The operator sets "
            "ENCRYPTION_KEY (at least 32 characters, e.g. from `openssl rand -base64 32`).",
            code="encryption_not_configured",
        )


class DecryptionError(BastionError):
    """A stored ciphertext cannot be read with the configured keys (wrong key, or tampered)."""

    status = 500
    kind = "api_error"


def derive_kek(secret: str) -> bytes:
    """The 256-bit key-encryption key of a configured secret: its bytes when it is base64 of exactly
    32 bytes (``openssl rand -base64 32``), else HKDF-SHA256 over the text."""
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return raw
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"bastion-secrets", info=b"kek-v1")
    return hkdf.derive(secret.encode())


def _aesgcm(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _kek_id(kek: bytes) -> str:
    return hashlib.sha256(b"bastion-kek-id\x00" + kek).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Vault:
    """Encrypts with the first key of ``keys``, decrypts with any of them."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        self._keks: dict[str, AESGCM] = {}
        self._current: str | None = None
        for secret in keys:
            kek = derive_kek(secret.reveal())
            kid = _kek_id(kek)
            if kid not in self._keks:
                self._keks[kid] = _aesgcm(kek)
            if self._current is None:
                self._current = kid

    @property
    def configured(self) -> bool:
        return self._current is not None

    @property
    def current_key_id(self) -> str | None:
        """The id of the key that encrypts (safe to print: a hash prefix)."""
        return self._current

    def encrypt(self, plaintext: str, context: str) -> str:
        if self._current is None:
            raise VaultNotConfiguredError()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = AESGCM.generate_key(bit_length=256)
        nonce, key_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        sealed = AESGCM(data_key).encrypt(nonce, plaintext.encode(), context.encode())
        wrapped = self._keks[self._current].encrypt(key_nonce, data_key, self._current.encode())
        return ".".join((_VERSION, self._current, _b64(key_nonce + wrapped), _b64(nonce + sealed)))

    def decrypt(self, stored: str, context: str) -> str:
        parts = stored.split(".")
        if len(parts) != 4 or parts[0] != _VERSION:
            raise DecryptionError("A stored provider key is not in Bastion's encrypted format.")
        _, kid, wrapped, sealed = parts
        from cryptography.exceptions import InvalidTag

        kek = self._keks.get(kid)
        if kek is None:
            raise DecryptionError(
                f"A stored provider key was encrypted with key {kid}, which is not configured any more. "
                "Add the old key to ENCRYPTION_KEYS and run `bastion rotate-encryption-key`."
            )
        try:
            raw_key, raw = _unb64(wrapped), _unb64(sealed)
            data_key = kek.decrypt(raw_key[:_NONCE], raw_key[_NONCE:], kid.encode())
            return _aesgcm(data_key).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                "A stored provider key failed its integrity check (altered, or moved from another row)."
            ) from None

    def needs_rotation(self, stored: str) -> bool:
        """Whether ``stored`` was encrypted with a key other than the current one."""
        parts = stored.split(".")
        return len(parts) != 4 or parts[1] != self._current
