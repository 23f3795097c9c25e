"""Usage for people: a user's own tokens and cost per day and model, and every user's for superusers.

Read from the spend logs (the gateway's one record of every call), where an account user's calls
carry their ``user_id``. ``user_key_cost_usd`` is the part paid with the user's own provider keys,
which the operator does not bill.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.store import DailyUsage, Database, SpendFilter
from bastion.store.bounds import findable

__all__ = ["UsageQuery", "UsageService"]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    start: datetime
    end: datetime | None = None
    user_id: str | None = None
    model: str | None = None


class UsageService:
    def __init__(self, database: Database) -> None:
        self._db = database

    @staticmethod
    def last_days(days: int, *, now: datetime | None = None) -> datetime:
        """The start of a ``days``-day window ending now: midnight UTC ``days - 1`` days ago."""
        today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=days - 1)

    async def report(self, query: UsageQuery, *, per_user: bool) -> dict[str, Any]:
        where = SpendFilter(user=query.user_id, model_group=query.model, start=query.start, end=query.end)
        # A filter no spend log could hold (a NUL, longer than its column) matches nothing.
        matchable = all(findable(value) for value in (query.user_id, query.model) if value is not None)
        rows = await self._db.spend.daily_usage(where) if matchable else []
        report: dict[str, Any] = {
            "start": query.start.isoformat(),
            "end": query.end.isoformat() if query.end else None,
            "totals": _totals(rows),
            "daily": [_row(r, with_user=per_user) for r in rows],
        }
        if per_user:
            users: defaultdict[str | None, list[DailyUsage]] = defaultdict(list)
            for row in rows:
                users[row.user].append(row)
            report["users"] = [{"user_id": user, **_totals(found)} for user, found in users.items()]
        return report


def _totals(rows: list[DailyUsage]) -> dict[str, Any]:
    return {
        "requests": sum(r.requests for r in rows),
        "input_tokens": sum(r.prompt_tokens for r in rows),
        "output_tokens": sum(r.completion_tokens for r in rows),
        "total_tokens": sum(r.total_tokens for r in rows),
        "cost_usd": round(sum(r.spend for r in rows), 10),
        "user_key_cost_usd": round(sum(r.user_key_spend for r in rows), 10),
    }


def _row(row: DailyUsage, *, with_user: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"date": row.day, "model": row.model_group}
    if with_user:
        found["user_id"] = row.user
    found.update(
        requests=row.requests,
        input_tokens=row.prompt_tokens,
        output_tokens=row.completion_tokens,
        total_tokens=row.total_tokens,
        cost_usd=round(row.spend, 10),
        user_key_cost_usd=round(row.user_key_spend, 10),
    )
    return found
