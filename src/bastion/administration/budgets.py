"""Budgets: how much a key, a team or a user may spend, and over which period.

A budget is ``max_budget`` (USD) and an optional ``budget_duration``, after which the spend counted
against it starts again from zero at ``budget_reset_at``. Keys, teams and users carry the same
fields and are read here, once, for the API, the dashboard and the CLI alike.

LiteLLM's budget tiers (a named budget, ``budget_id``, that several keys or customers share) will
be a second source of the same two values; they belong in this module, next to the fields read
today, so every owner keeps one way of saying what its budget is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from bastion.administration.fields import Fields, checked_time

__all__ = ["Budgets"]


class Budgets:
    """Reads budget fields; ``budget_tz`` is the calendar budget periods reset on."""

    def __init__(
        self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC), budget_tz: tzinfo = UTC
    ) -> None:
        self.clock = clock
        self.budget_tz = budget_tz

    def changes(self, fields: Fields) -> dict[str, Any]:
        """``max_budget``, and ``budget_duration`` with the ``budget_reset_at`` it implies."""
        changes: dict[str, Any] = {}
        max_budget = fields.money("max_budget")
        if max_budget is not None:
            changes["max_budget"] = max_budget
        duration = fields.duration("budget_duration")
        if duration is not None:
            now = self.clock()
            changes["budget_duration"] = str(duration)
            changes["budget_reset_at"] = checked_time(
                "budget_duration", lambda: duration.next_reset(now, self.budget_tz)
            )
        return changes
