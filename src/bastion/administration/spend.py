"""Spend queries for operators: the logs, daily summaries, totals grouped by team, user, key or
model, and the overview's request timings.

``GET /spend/logs``, the dashboard's overview, requests and spend pages, and ``bastion spend`` ask
here. A filter value no row could hold (a NUL character, longer than its column) matches nothing:
the answer is empty without a query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bastion.domain.errors import InvalidRequestError
from bastion.store import SpendFilter, SpendLogRecord
from bastion.store.bounds import findable
from bastion.store.database import Database
from bastion.store.records import GroupedSpend
from bastion.store.spend import BUCKETS, SPEND_GROUPS, RequestTiming, TimedSpend

__all__ = ["BUCKETS", "SPEND_GROUPS", "SPEND_STATUSES", "SpendService"]

#: The ``status`` of a spend log.
SPEND_STATUSES = ("success", "failure")

_PAGE = 5000
#: Beyond this many rows a daily summary is refused rather than computed slowly in memory.
_MAX_SUMMARIZED = 200_000


class SpendService:
    def __init__(
        self, database: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = database
        self._clock = clock

    async def logs(self, where: SpendFilter, *, limit: int = 100, offset: int = 0) -> list[SpendLogRecord]:
        """The logs matching ``where``, newest first."""
        if not _could_match(where):
            return []
        return await self._db.spend.query_spend_logs(where, limit=limit, offset=offset)

    async def by(self, group: str, where: SpendFilter, *, limit: int = 50) -> list[GroupedSpend]:
        """Spend summed per ``group`` (``team``, ``user``, ``key`` or ``model``), costliest first."""
        if group not in SPEND_GROUPS:
            raise InvalidRequestError(f"Group spend by one of: {', '.join(SPEND_GROUPS)}.", param="by")
        if not _could_match(where):
            return []
        return await self._db.spend.spend_by(group, where, limit=limit)

    async def by_deployment(self, where: SpendFilter, *, limit: int = 500) -> dict[str, GroupedSpend]:
        """Requests, errors, tokens and spend per deployment id (the dashboard's models page)."""
        if not _could_match(where):
            return {}
        rows = await self._db.spend.spend_by("deployment", where, limit=limit)
        return {row.group: row for row in rows if row.group}

    async def over_time(
        self, group: str, where: SpendFilter, *, bucket: str = "day", limit: int = 20_000
    ) -> list[TimedSpend]:
        """Spend per time ``bucket`` (``day`` or ``hour``, UTC) and ``group``, oldest first."""
        if group not in SPEND_GROUPS:
            raise InvalidRequestError(f"Group spend by one of: {', '.join(SPEND_GROUPS)}.", param="by")
        if bucket not in BUCKETS:
            raise InvalidRequestError(f"Bucket spend by one of: {', '.join(BUCKETS)}.", param="bucket")
        if not _could_match(where):
            return []
        return await self._db.spend.spend_over_time(group, where, bucket=bucket, limit=limit)

    async def last_used(self, api_keys: Sequence[str]) -> dict[str, datetime]:
        """When each of ``api_keys`` (key hashes or labels, as spend logs hold them) was last used."""
        wanted = [key for key in dict.fromkeys(api_keys) if key and findable(key)]
        return await self._db.spend.last_used(wanted[:_PAGE])

    async def timings(self, where: SpendFilter, *, limit: int) -> list[RequestTiming]:
        """The newest ``limit`` requests matching ``where``: times, status, tokens and cost."""
        if not _could_match(where):
            return []
        return await self._db.spend.request_timings(where, limit=limit)

    async def daily(self, where: SpendFilter) -> list[dict[str, Any]]:
        """One summary per UTC day, oldest first (``/spend/logs?summarize=true``, LiteLLM's shape)::

        {"startTime": "2026-11-01", "spend": 1.25, "requests": 40, "prompt_tokens": 9000,
         "completion_tokens": 1200, "total_tokens": 10200,
         "models": {<model group>: spend}, "users": {<user>: spend},
         "teams": {<team_id>: spend}, "api_keys": {<key hash>: spend}}
        """
        if where.end is None:
            # Pages are read newest first; a fixed end keeps new requests from shifting them.
            where = replace(where, end=self._clock())
        days: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            rows = await self.logs(where, limit=_PAGE, offset=offset)
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


def _could_match(where: SpendFilter) -> bool:
    texts = (
        where.api_key,
        where.team_id,
        where.user,
        where.end_user,
        where.model_group,
        where.request_id,
        where.status,
    )
    return all(findable(value) for value in texts if value is not None)


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
