"""The plans page: every plan with its limits, its members and what they used against its quota.

Read-only: plans are changed in the config file or through ``/budget/*``
(:class:`~bastion.administration.plans.PlanService`, which this page reads too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bastion.administration.plans import PlanService
from bastion.domain.plans import Plan
from bastion.web._html import table
from bastion.web.dashboard import PageContext, Reply

__all__ = ["PlanPages"]


class PlanPages:
    def __init__(
        self, plans: PlanService, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._plans = plans
        self._clock = clock

    def pages(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/ui/plans"): self.list_page}

    async def list_page(self, ctx: PageContext) -> Reply:
        now = self._clock()
        counts = await self._plans.member_counts()
        rows = []
        for plan in await self._plans.all():
            usage = await self._plans.usage(plan, now)
            quota = plan.max_tokens_per_period
            average = usage.tokens / usage.active_members if usage.active_members else 0
            rows.append(
                [
                    plan.plan_id,
                    "config file" if plan.source == "config" else "API",
                    _limits(plan),
                    "unlimited" if quota is None else f"{quota:,} / {plan.quota_duration or 'ever'}",
                    f"{counts.get(plan.plan_id, 0):,}",
                    f"{usage.active_members:,}",
                    f"{usage.tokens:,}",
                    "-" if quota is None or not usage.active_members else f"{average / quota:.0%} of quota",
                    usage.start.strftime("%Y-%m-%d"),
                ]
            )
        body = table(
            [
                "Plan",
                "Defined in",
                "Limits",
                "Token quota",
                "Customers",
                "Active this period",
                "Tokens this period",
                "Average use",
                "Period since",
            ],
            rows,
            table_id="plans",
            empty="No plans: add them under bastion_settings.plans or with POST /budget/new.",
        )
        return ctx.render(f"Plans ({len(rows)})", body, current="/ui/plans")


def _limits(plan: Plan) -> str:
    parts = []
    if plan.rpm_limit is not None:
        parts.append(f"{plan.rpm_limit:,} rpm")
    if plan.tpm_limit is not None:
        parts.append(f"{plan.tpm_limit:,} tpm")
    if plan.max_parallel_requests is not None:
        parts.append(f"{plan.max_parallel_requests:,} parallel")
    if plan.max_budget is not None:
        parts.append(f"${plan.max_budget:,.2f} / {plan.budget_duration or 'ever'}")
    if plan.models:
        parts.append("models: " + ", ".join(plan.models))
    return "; ".join(parts) or "none"
