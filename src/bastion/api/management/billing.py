"""``/billing/events``: the billing outbox for operators (master key only).

- ``GET /billing/events``: events newest first, filtered by ``team_id``, ``status``
  (pending, delivered, parked, cancelled), ``start_date``/``end_date`` (on when the call was
  made), ``limit`` (default 100, at most 1000) and ``offset``; with totals per org and the number
  of spend logs the billing worker has not seen yet.
- ``POST /billing/events/retry`` and ``POST /billing/events/cancel`` with ``{"id": <event id>}``:
  a parked event is sent again from its first attempt, or given up on.
"""

from __future__ import annotations

from typing import Any

from bastion.administration import BillingFilter
from bastion.api.asgi import Request
from bastion.api.management._common import Management
from bastion.api.management._query import query_int, query_time
from bastion.domain.principal import Principal

__all__ = ["BillingEndpoints"]


class BillingEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._billing = management.admin.billing

    async def events(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /billing/events``."""
        query = request.query
        where = BillingFilter(
            team_id=query.get("team_id") or None,
            status=query.get("status") or None,
            start=query_time(request, "start_date"),
            end=query_time(request, "end_date", end=True),
        )
        limit = query_int(request, "limit", 100, low=1, high=1000)
        offset = query_int(request, "offset", 0, low=0, high=1_000_000_000)
        return await self._billing.status(where, limit=limit, offset=offset)

    async def retry(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /billing/events/retry``."""
        return await self._billing.retry((await self._m.body(request)).get("id"))

    async def cancel(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /billing/events/cancel``."""
        return await self._billing.cancel((await self._m.body(request)).get("id"))
