"""``GET /spend/logs`` (LiteLLM's API): the spend log, filtered, per request or per day.

Filters (all optional, combined): ``api_key`` (a key or its hash), ``request_id``, ``team_id``,
``user_id`` (the key's user), ``start_date`` and ``end_date`` (``YYYY-MM-DD``, a bare end date
including that whole day, or ISO 8601 times; the range is on the request's start time).

``summarize=false`` answers with the matching rows, newest first, in LiteLLM's column names (see
:func:`~bastion.api.management._render.spend_row`), ``limit`` (default 1000, at most 10000) at a
time from ``offset``. ``summarize=true`` (LiteLLM's default) answers with one object per UTC day,
oldest first::

    {"startTime": "2026-11-01", "spend": 1.25, "requests": 40, "prompt_tokens": 9000,
     "completion_tokens": 1200, "total_tokens": 10200,
     "models": {<model group>: spend}, "users": {<user>: spend},
     "teams": {<team_id>: spend}, "api_keys": {<key hash>: spend}}
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bastion.api.asgi import Request
from bastion.api.management._common import Management, token_of
from bastion.api.management._fields import query_flag, query_int, query_time
from bastion.api.management._render import spend_row
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal
from bastion.store import SpendFilter, SpendLogRecord

__all__ = ["SpendEndpoints", "spend_filter"]

_PAGE = 5000
#: Beyond this many rows a daily summary is refused rather than computed slowly in memory.
_MAX_SUMMARIZED = 200_000


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
        self._m = management

    async def logs(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /spend/logs``."""
        where = spend_filter(request)
        if not query_flag(request, "summarize", True):
            limit = query_int(request, "limit", 1000, low=1, high=10_000)
            offset = query_int(request, "offset", 0, low=0, high=1_000_000_000)
            rows = await self._m.db.spend.query_spend_logs(where, limit=limit, offset=offset)
            return [spend_row(row) for row in rows]
        return await self._daily(where)

    async def _daily(self, where: SpendFilter) -> list[dict[str, Any]]:
        if where.end is None:
            # Pages are read newest first; a fixed end keeps new requests from shifting them.
            where = replace(where, end=self._m.clock())
        days: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            rows = await self._m.db.spend.query_spend_logs(where, limit=_PAGE, offset=offset)
            for row in rows:
                _add(days, row)
            if len(rows) < _PAGE:
                return [days[day] for day in sorted(days)]
            offset += _PAGE
            if offset >= _MAX_SUMMARIZED:
                raise InvalidRequestError(
                    f"More than {_MAX_SUMMARIZED:,} requests match; narrow start_date/end_date, "
                    "or page through them with summarize=false&limit=...&offset=...",
                    param="start_date",
                )


def _add(days: dict[str, dict[str, Any]], row: SpendLogRecord) -> None:
    day_name = row.start_time.date().isoformat()
    day = days.get(day_name)
    if day is None:
        day = days[day_name] = {
            "startTime": day_name,
            "spend": 0.0,
            "requests": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "models": {},
            "users": {},
            "teams": {},
            "api_keys": {},
        }
    day["spend"] += row.spend
    day["requests"] += 1
    day["prompt_tokens"] += row.prompt_tokens
    day["completion_tokens"] += row.completion_tokens
    day["total_tokens"] += row.total_tokens
    for group, name in (
        ("models", row.model_group or row.model),
        ("users", row.user),
        ("teams", row.team_id),
        ("api_keys", row.api_key),
    ):
        if name:
            day[group][name] = day[group].get(name, 0.0) + row.spend
