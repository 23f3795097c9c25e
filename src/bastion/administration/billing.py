"""The billing outbox for operators: events, totals per org, the backlog; retry or cancel a parked
event (``/billing/events``, the dashboard's billing page, ``bastion billing``)."""

from __future__ import annotations

from typing import Any

from bastion.billing.status import billing_status, cancel_event, retry_event
from bastion.domain.errors import InvalidRequestError
from bastion.store.billing_records import EVENT_STATUSES, BillingFilter
from bastion.store.bounds import findable
from bastion.store.database import Database

__all__ = ["EVENT_STATUSES", "BillingAdmin", "BillingFilter"]

#: Event ids are 64-bit.
_MAX_ID = 2**63 - 1


class BillingAdmin:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def status(self, where: BillingFilter, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """Matching events (newest first), totals per org and status, and spend logs not yet billed."""
        if where.status is not None and where.status not in EVENT_STATUSES:
            raise InvalidRequestError(f"status must be one of: {', '.join(EVENT_STATUSES)}.", param="status")
        if where.team_id is not None and not findable(where.team_id):
            where = BillingFilter(team_id="", status=where.status, start=where.start, end=where.end)
        return await billing_status(self._db.billing, where, limit=limit, offset=offset)

    async def retry(self, event_id: Any) -> dict[str, Any]:
        """Send a parked event again, from its first attempt."""
        return await retry_event(self._db.billing, _event_id(event_id))

    async def cancel(self, event_id: Any) -> dict[str, Any]:
        """Give up on a parked event."""
        return await cancel_event(self._db.billing, _event_id(event_id))


def _event_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise InvalidRequestError('Send {"id": <billing event id>} (a positive integer).', param="id")
    return value
