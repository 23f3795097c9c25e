"""``GET /spend/logs`` (LiteLLM's API): the spend log, filtered, per request or per day.

Filters (all optional, combined): ``api_key`` (a key or its hash), ``request_id``, ``team_id``,
``user_id`` (the key's user), ``start_date`` and ``end_date`` (``YYYY-MM-DD``, a bare end date
including that whole day, or ISO 8601 times; the range is on the request's start time).

``summarize=false`` answers with the matching rows, newest first, in LiteLLM's column names (see
:func:`~bastion.api.management._render.spend_row`), ``limit`` (default 1000, at most 10000) at a
time from ``offset``. ``summarize=true`` (LiteLLM's default) answers with one object per UTC day,
oldest first (see :meth:`~bastion.administration.spend.SpendService.daily`).
"""

from __future__ import annotations

from typing import Any

from bastion.administration import SpendFilter
from bastion.administration.keys import token_of
from bastion.api.asgi import Request
from bastion.api.management._common import Management
from bastion.api.management._query import query_flag, query_int, query_time
from bastion.api.management._render import spend_row
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal

__all__ = ["SpendEndpoints", "spend_filter"]


def spend_filter(request: Request) -> SpendFilter:
    """The :class:`SpendFilter` the query string asks for."""
    query = request.query
    api_key = query.get("api_key", "").strip()
    start = query_time(request, "start_date")
    end = query_time(request, "end_date", end=True)
    if start is not None and end is not None and end <= start:
        raise InvalidRequestError("end_date must be after start_date.", param="end_date")
    return SpendFilter(
        api_key=token_of(api_key) if api_key else None,
        request_id=query.get("request_id") or None,
        team_id=query.get("team_id") or None,
        user=query.get("user_id") or None,
        start=start,
        end=end,
    )


class SpendEndpoints:
    def __init__(self, management: Management) -> None:
        self._spend = management.admin.spend

    async def logs(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /spend/logs``."""
        where = spend_filter(request)
        if not query_flag(request, "summarize", True):
            limit = query_int(request, "limit", 1000, low=1, high=10_000)
            offset = query_int(request, "offset", 0, low=0, high=1_000_000_000)
            return [spend_row(row) for row in await self._spend.logs(where, limit=limit, offset=offset)]
        return await self._spend.daily(where)
