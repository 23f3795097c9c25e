"""Envelope encryption for the provider keys Bastion stores (bring-your-own-key and system keys).

:class:`Vault` encrypts with the newest configured key-encryption key and decrypts with any of them,
so a rotation (``bastion rotate-encryption-key``) can re-encrypt rows while old ones stay readable.
:func:`mask_key` is how a stored key is shown (``sk-ant-...wxyz``).
"""

from __future__ import annotations

from bastion.secrets.envelope import DecryptionError, Vault, VaultNotConfiguredError
from bastion.secrets.masking import mask_key

__all__ = ["DecryptionError", "Vault", "VaultNotConfiguredError", "mask_key"]
