"""``GET /v2/billing/usage/my-usage?days=30`` for everyone; every user's usage for superusers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bastion.accounts.records import UserRecord
from bastion.accounts.usage import UsageQuery, UsageService
from bastion.api.account._room import Room, int_query
from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError

__all__ = ["BillingEndpoints"]


def _date(request: Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            f"'{name}' must be a date (2026-01-31) or an ISO 8601 time.", param=name
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class BillingEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def my_usage(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        days = int_query(request, "days", 30, high=3660)
        query = UsageQuery(start=UsageService.last_days(days), user_id=user.user_id)
        report = await self._room.s.usage.report(query, per_user=False)
        plan_usage = self._room.s.plan_usage
        plan = None if plan_usage is None else await plan_usage(user.user_id)
        return 200, {"user_id": user.user_id, "days": days, **report, "plan": plan}

    async def all_usage(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        """Filters: ``user_id``, ``model``, and ``start``/``end`` (dates or times) or ``days``."""
        start = _date(request, "start")
        days = int_query(request, "days", 30, high=3660)
        query = UsageQuery(
            start=start or UsageService.last_days(days),
            end=_date(request, "end"),
            user_id=request.query.get("user_id") or None,
            model=request.query.get("model") or None,
        )
        return 200, await self._room.s.usage.report(query, per_user=True)
