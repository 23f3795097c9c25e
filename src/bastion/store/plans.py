"""Plans made through ``/budget/new``: create, get, update, delete and list rows of ``plans``.

Deleting a plan leaves the end users on it where they are: their ``budget_id`` names a plan no
longer there, which the gateway treats as no plan (the default plan applies) until they are moved.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bastion.domain.plans import Plan
from bastion.store._owners import OwnerRepository
from bastion.store._transactions import reading, writing
from bastion.store.records import PlanRecord
from bastion.store.schema import end_users, plans

__all__ = ["PLAN_UPDATABLE_FIELDS", "PlanRepository", "plan_from_record"]

PLAN_UPDATABLE_FIELDS = frozenset(
    {
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "max_budget",
        "budget_duration",
        "max_tokens_per_period",
        "quota_duration",
        "count_cache_reads",
        "models",
        "model_aliases",
        "quota_message",
        "metadata",
    }
)


def plan_from_record(record: PlanRecord) -> Plan:
    return Plan(
        plan_id=record.budget_id,
        rpm_limit=record.rpm_limit,
        tpm_limit=record.tpm_limit,
        max_parallel_requests=record.max_parallel_requests,
        max_budget=record.max_budget,
        budget_duration=record.budget_duration,
        max_tokens_per_period=record.max_tokens_per_period,
        quota_duration=record.quota_duration,
        count_cache_reads=record.count_cache_reads,
        models=tuple(record.models),
        model_aliases=dict(record.model_aliases or {}),
        quota_message=record.quota_message,
        metadata=dict(record.metadata or {}),
        source="api",
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class PlanRepository(OwnerRepository[PlanRecord]):
    """Async access to plans."""

    _table = plans
    _id = "budget_id"
    _record = PlanRecord
    _updatable = PLAN_UPDATABLE_FIELDS
    _noun = "plan"

    async def delete(self, budget_id: str) -> bool:
        """Delete the plan; whether there was one."""
        async with writing(self._engine) as conn:
            result = await conn.execute(delete(plans).where(plans.c.budget_id == budget_id))
        return bool(result.rowcount)

    async def all(self) -> list[PlanRecord]:
        """Every plan, oldest first (plans are few: tiers, not users)."""
        return list((await self._page(1, 10_000)).items)

    async def member_counts(self) -> dict[str, int]:
        """How many end users (``/customer/*``) each plan has, by ``budget_id``."""
        query = (
            select(end_users.c.budget_id, func.count())
            .where(end_users.c.budget_id.is_not(None))
            .group_by(end_users.c.budget_id)
        )
        async with reading(self._engine) as conn:
            return {str(row[0]): int(row[1]) for row in (await conn.execute(query)).all()}
