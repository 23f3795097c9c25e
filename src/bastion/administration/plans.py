"""Plans (LiteLLM's budget tiers, ``/budget/*``): create, read, list, update and delete.

Plans come from two places: ``bastion_settings.plans`` (read-only here: change the config) and
this API (rows of the database). One name is one plan: ``/budget/new`` refuses a name the config
already uses. Every change is announced (``notify``), so every gateway process reloads its plans
before its next request; members stay on a plan through its changes, and the usage of the
current period carries over (it is counted per member, not per plan).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bastion.administration.fields import Fields
from bastion.domain.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from bastion.domain.plans import Plan, quota_message_problem
from bastion.limits.durations import parse_duration
from bastion.store import Database
from bastion.store.plans import plan_from_record
from bastion.store.records import PlanRecord

__all__ = ["PLAN_FIELDS", "Notify", "PlanService", "PlanUsage", "plan_from_record", "plan_not_found"]

#: Called after any change of plans or of who is on which plan (tells every gateway process).
Notify = Callable[[], Awaitable[None]]

PLAN_FIELDS = frozenset(
    {
        "budget_id",
        "max_budget",
        "budget_duration",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "max_tokens_per_period",
        "quota_duration",
        "count_cache_reads",
        "models",
        "model_aliases",
        "quota_message",
        "metadata",
    }
)
_PLAN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


@dataclass(frozen=True, slots=True)
class PlanUsage:
    """A plan's usage since ``start``: requests, distinct members who made them, their tokens."""

    start: datetime
    requests: int
    active_members: int
    tokens: int


async def _nobody() -> None:
    return None


def plan_not_found(plan_id: str) -> NotFoundError:
    return NotFoundError(f"Plan '{plan_id}' does not exist.", param="budget_id", code="budget_not_found")


class PlanService:
    """``configured``: the plans of ``bastion_settings.plans``, by name."""

    def __init__(
        self, database: Database, *, configured: Mapping[str, Plan] | None = None, notify: Notify = _nobody
    ) -> None:
        self._db = database
        self.configured: Mapping[str, Plan] = dict(configured or {})
        self._notify = notify

    async def create(self, body: Mapping[str, Any]) -> Plan:
        """Store a plan from ``/budget/new`` fields; ``budget_id`` is required (it is the plan's name)."""
        fields = Fields(body)
        plan_id = _plan_id(fields.text("budget_id"))
        if plan_id in self.configured:
            raise _read_only(plan_id)
        changes = _changes(fields)
        _check_pairs(changes)
        record = await self._db.plans.create(PlanRecord(plan_id, **changes))
        await self._notify()
        return plan_from_record(record)

    async def get(self, plan_id: str) -> Plan:
        plan = await self.find(plan_id)
        if plan is None:
            raise plan_not_found(plan_id)
        return plan

    async def find(self, plan_id: str) -> Plan | None:
        configured = self.configured.get(plan_id)
        if configured is not None:
            return configured
        if not _PLAN_ID.fullmatch(plan_id):
            return None
        record = await self._db.plans.get(plan_id)
        return None if record is None else plan_from_record(record)

    async def all(self) -> list[Plan]:
        """The configured plans (in config order), then those of the API (oldest first)."""
        stored = [plan_from_record(record) for record in await self._db.plans.all()]
        return [*self.configured.values(), *(p for p in stored if p.plan_id not in self.configured)]

    async def update(self, body: Mapping[str, Any]) -> Plan:
        """Apply ``/budget/update`` fields (``budget_id`` names the plan)."""
        fields = Fields(body)
        plan_id = _plan_id(fields.text("budget_id"))
        if plan_id in self.configured:
            raise _read_only(plan_id)
        current = await self._db.plans.get(plan_id)
        if current is None:
            raise plan_not_found(plan_id)
        changes = _changes(fields)
        _check_pairs({**_pairs(current), **changes})
        updated = await self._db.plans.update(plan_id, changes)
        if updated is None:
            raise plan_not_found(plan_id)
        await self._notify()
        return plan_from_record(updated)

    async def delete(self, plan_ids: Sequence[str]) -> list[str]:
        """Delete plans made through the API; 404 (and nothing deleted) when one does not exist."""
        for plan_id in plan_ids:
            if plan_id in self.configured:
                raise _read_only(plan_id)
            if not _PLAN_ID.fullmatch(plan_id) or await self._db.plans.get(plan_id) is None:
                raise plan_not_found(plan_id)
        deleted = [plan_id for plan_id in dict.fromkeys(plan_ids) if await self._db.plans.delete(plan_id)]
        await self._notify()
        return deleted

    async def usage(self, plan: Plan, now: datetime) -> PlanUsage:
        """What the plan's members used in its current quota period (else the last 30 days)."""
        start = now - timedelta(days=30)
        if plan.quota_duration is not None:
            start = parse_duration(plan.quota_duration).window_start(now)
        requests, active, tokens = await self._db.spend.plan_usage(plan.plan_id, start)
        return PlanUsage(start, requests, active, tokens)

    async def member_counts(self) -> dict[str, int]:
        """End users on each plan through ``/customer/*`` (JWT claims are not stored)."""
        return await self._db.plans.member_counts()


def _plan_id(value: str | None) -> str:
    if value is None:
        raise InvalidRequestError("Pass 'budget_id', the plan's name.", param="budget_id")
    if not _PLAN_ID.fullmatch(value):
        raise InvalidRequestError(
            "budget_id must be 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter "
            "or digit.",
            param="budget_id",
        )
    return value


def _read_only(plan_id: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"Plan '{plan_id}' is defined in the config file (bastion_settings.plans); change it there.",
        param="budget_id",
        code="plan_in_config",
    )


def _changes(fields: Fields) -> dict[str, Any]:
    """The plan columns ``fields`` sets; absent or ``null`` fields are left out (unchanged)."""
    changes: dict[str, Any] = {}
    for name in ("tpm_limit", "rpm_limit", "max_parallel_requests", "max_tokens_per_period"):
        count = fields.count(name)
        if count is not None:
            changes[name] = count
    max_budget = fields.money("max_budget")
    if max_budget is not None:
        changes["max_budget"] = max_budget
    for name in ("budget_duration", "quota_duration"):
        duration = fields.duration(name)
        if duration is not None:
            changes[name] = str(duration)
    flag = fields.flag("count_cache_reads")
    if flag is not None:
        changes["count_cache_reads"] = flag
    models = fields.names("models")
    if models is not None:
        changes["models"] = tuple(dict.fromkeys(models))
    aliases = fields.mapping("model_aliases")
    if aliases is not None:
        changes["model_aliases"] = _aliases(aliases)
    message = fields.text("quota_message", max_length=1000)
    if message is not None:
        problem = quota_message_problem(message)
        if problem is not None:
            raise InvalidRequestError(f"quota_message {problem}.", param="quota_message")
        changes["quota_message"] = message
    metadata = fields.mapping("metadata")
    if metadata is not None:
        changes["metadata"] = metadata
    return changes


def _aliases(aliases: Mapping[str, Any]) -> dict[str, str]:
    """``model_aliases``: requested model group -> the group that serves it (names, not empty)."""
    if len(aliases) > 1000:
        raise InvalidRequestError("model_aliases may map at most 1000 model groups.", param="model_aliases")
    for requested, served in aliases.items():
        if (
            not requested
            or not isinstance(served, str)
            or not served
            or len(served) > 255
            or len(requested) > 255
        ):
            raise InvalidRequestError(
                "model_aliases maps a model group to the model group that serves it, e.g. "
                '{"claude-sonnet": "claude-haiku"}: names of 1 to 255 characters.',
                param="model_aliases",
            )
    return dict(aliases)


def _pairs(record: PlanRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name)
        for name in ("max_budget", "budget_duration", "max_tokens_per_period", "quota_duration")
        if getattr(record, name) is not None
    }


def _check_pairs(values: Mapping[str, Any]) -> None:
    """A window needs something to reset: ``budget_duration`` a budget, ``quota_duration`` a quota."""
    if values.get("budget_duration") is not None and values.get("max_budget") is None:
        raise InvalidRequestError("budget_duration needs a max_budget to reset.", param="budget_duration")
    if values.get("quota_duration") is not None and values.get("max_tokens_per_period") is None:
        raise InvalidRequestError(
            "quota_duration needs a max_tokens_per_period to renew.", param="quota_duration"
        )
