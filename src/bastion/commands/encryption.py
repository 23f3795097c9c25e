"""``bastion rotate-encryption-key``: re-encrypt every stored provider key with the newest key.

Rotation: put the new key first (``ENCRYPTION_KEY=new`` and ``ENCRYPTION_KEYS=old``, or
``accounts.encryption_keys: [new, old]``), restart the gateways (they now encrypt with the new key
and still read the old rows), run this command, then drop the old key. Rows changed by a gateway
while it runs are left as they are: they were just written with the new key.
"""

from __future__ import annotations

import sys

from bastion.administration.offline import Offline, offline
from bastion.secrets import Vault
from bastion.settings import Settings

__all__ = ["rotate_encryption_key"]


def rotate_encryption_key(settings: Settings) -> int:
    vault = Vault(settings.bastion.accounts.encryption_keys)
    if not vault.configured:
        print(
            "bastion: no encryption key is configured "
            "(set ENCRYPTION_KEY, and the old ones in ENCRYPTION_KEYS)",
            file=sys.stderr,
        )
        return 2

    def progress(done: int, total: int) -> None:
        print(f"\rre-encrypting stored provider keys: {done}/{total}", end="", flush=True)

    async def run(services: Offline) -> int:
        report = await services.reencrypt_provider_keys(vault, progress)
        if report.total:
            print()
        print(
            f"{report.total} stored provider keys: {report.reencrypted} re-encrypted with key "
            f"{vault.current_key_id}, {report.current} already current, "
            f"{report.changed_meanwhile} changed meanwhile (already current)"
        )
        return 0

    return offline(settings, run)
