"""Billing as the gateway process runs it: the credit check for admission, in-process workers.

The composition root builds one :class:`BillingService` when ``billing_settings`` is present::

    billing = BillingService(settings.billing, database.billing, http=http)
    Gatekeeper(..., entitlement=billing.entitlement)   # None unless an entitlement check is set
    await billing.start()                          # workers, if run_in_process
    ...
    await billing.stop()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bastion.billing.entitlement import CreditCheck
from bastion.billing.workers import BillingWorkers
from bastion.domain.principal import Principal
from bastion.outbound.http import HttpPool
from bastion.settings.billing import BillingSettings
from bastion.store.billing import BillingRepository

__all__ = ["BillingService"]


class BillingService:
    def __init__(self, settings: BillingSettings, repository: BillingRepository, *, http: HttpPool) -> None:
        """``http`` is the process's HTTP client: the credit check and the sinks send on it."""
        self._credit: CreditCheck | None = None
        if settings.entitlement is not None and settings.autumn is not None:
            self._credit = CreditCheck(settings.autumn, settings.entitlement, http=http)
        self.workers = BillingWorkers(repository, settings, http=http) if settings.run_in_process else None

    @property
    def entitlement(self) -> Callable[[Principal], Awaitable[None]] | None:
        """What admission awaits per call, or None without an entitlement check."""
        return None if self._credit is None else self._credit.check

    async def start(self) -> None:
        if self.workers is not None:
            self.workers.start()

    async def stop(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self._credit is not None:
            await self._credit.close()
