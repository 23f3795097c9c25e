"""``bastion rotate-encryption-key``: re-encrypt every stored provider key with the newest key.

Rotation: put the new key first (``ENCRYPTION_KEY=new`` and ``ENCRYPTION_KEYS=old``, or
``accounts.encryption_keys: [new, old]``), restart the gateways (they now encrypt with the new key
and still read the old rows), run this command, then drop the old key. Rows changed by a gateway
while it runs are left as they are: they were just written with the new key.
"""

from __future__ import annotations

import asyncio
import sys

from bastion.accounts.provider_keys import ProviderKeyService
from bastion.gateway.credentials import SystemKeys
from bastion.secrets import Vault
from bastion.settings import Settings
from bastion.store.database import Database

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

    async def run() -> int:
        database = await Database.open(
            settings.database_url, default_path=settings.state_dir() / "bastion.db"
        )
        try:
            service = ProviderKeyService(database, vault, SystemKeys(), settings.model_list)
            report = await service.reencrypt_all(progress)
        finally:
            await database.close()
        if report.total:
            print()
        print(
            f"{report.total} stored provider keys: {report.reencrypted} re-encrypted with key "
            f"{vault.current_key_id}, {report.current} already current, "
            f"{report.changed_meanwhile} changed meanwhile (already current)"
        )
        return 0

    return asyncio.run(run())
