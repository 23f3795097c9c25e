"""The administration services for a command run without a server (``bastion keys create`` ...).

A command opens the configured database (SQLite in the data directory, or ``database_url``),
brought up to date, runs its work with the services and closes it again. Nothing is announced to
running gateways from here: commands create and read, and a new key needs no cache dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bastion.accounts.provider_keys import ProviderKeyService, RotationReport
from bastion.administration import Administration
from bastion.billing.workers import BillingWorkers
from bastion.gateway.credentials import SystemKeys
from bastion.secrets import Vault
from bastion.settings import Settings
from bastion.settings.billing import BillingSettings
from bastion.store.database import Database
from bastion.store.migrate import MigrationProgress, migrate

__all__ = ["Offline", "migrate_database", "offline"]

T = TypeVar("T")


class Offline:
    """What a command may use: the administration services, billing workers, key re-encryption."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._db = database
        self._settings = settings
        self.admin = Administration(database, plans=settings.bastion.plans)

    def billing_workers(self, billing: BillingSettings) -> BillingWorkers:
        """The billing and outbox workers over this database (``bastion worker``)."""
        return BillingWorkers(self._db.billing, billing)

    async def count_unbilled(self) -> int:
        """Spend logs the billing worker has not seen yet."""
        return await self._db.billing.count_unseen()

    async def reencrypt_provider_keys(
        self, vault: Vault, progress: Callable[[int, int], None] | None = None
    ) -> RotationReport:
        """Re-encrypt every stored provider key with the newest encryption key."""
        service = ProviderKeyService(self._db, vault, SystemKeys(), self._settings.model_list)
        return await service.reencrypt_all(progress)


def offline(settings: Settings, work: Callable[[Offline], Awaitable[T]]) -> T:
    """Open the configured database (migrated), run ``work`` and close it; ``work``'s answer."""

    async def main() -> T:
        database = await Database.open(settings.database_url, default_path=_default_path(settings))
        try:
            return await work(Offline(database, settings))
        finally:
            await database.close()

    return asyncio.run(main())


def migrate_database(settings: Settings, progress: MigrationProgress | None = None) -> int:
    """Bring the configured database to the latest schema; how many migrations were applied."""
    return asyncio.run(
        migrate(settings.database_url, default_path=_default_path(settings), progress=progress)
    )


def _default_path(settings: Settings) -> str:
    return str(settings.state_dir() / "bastion.db")
