"""``/budget/*`` (plans) and ``/customer/*`` (end users on plans): LiteLLM's budget tiers API.

LiteLLM's shapes: ``POST /budget/new`` takes the plan's fields with its name as ``budget_id``;
``POST /budget/info`` ``{"budgets": [...]}`` lists the named ones (``GET`` with ``?budget_id=``
reads one); ``POST /budget/delete`` ``{"id": ...}``. ``/customer/new`` puts an end user on a plan
with ``budget_id``; ``/end_user/*`` is the older name of the same routes. The work is the
:class:`~bastion.administration.plans.PlanService`'s and the
:class:`~bastion.administration.end_users.EndUserService`'s.
"""

from __future__ import annotations

from typing import Any

from bastion.administration.end_users import END_USER_FIELDS
from bastion.administration.fields import Fields
from bastion.administration.key_fields import note_ignored
from bastion.administration.plans import PLAN_FIELDS
from bastion.administration.records import EndUserRecord
from bastion.api.asgi import Request
from bastion.api.management._common import Management
from bastion.api.management._query import required_query
from bastion.api.management._render import iso
from bastion.domain.errors import InvalidRequestError
from bastion.domain.plans import Plan
from bastion.domain.principal import Principal

__all__ = ["CustomerEndpoints", "PlanEndpoints", "end_user_info", "plan_info"]


def plan_info(plan: Plan, members: int | None = None) -> dict[str, Any]:
    """A plan as LiteLLM's budget row, plus Bastion's quota fields and where the plan comes from."""
    info: dict[str, Any] = {
        "budget_id": plan.plan_id,
        "max_budget": plan.max_budget,
        "budget_duration": plan.budget_duration,
        "tpm_limit": plan.tpm_limit,
        "rpm_limit": plan.rpm_limit,
        "max_parallel_requests": plan.max_parallel_requests,
        "max_tokens_per_period": plan.max_tokens_per_period,
        "quota_duration": plan.quota_duration,
        "count_cache_reads": plan.count_cache_reads,
        "models": list(plan.models),
        "model_aliases": dict(plan.model_aliases),
        "quota_message": plan.quota_message,
        "metadata": dict(plan.metadata),
        "source": plan.source,
        "created_at": iso(plan.created_at),
        "updated_at": iso(plan.updated_at),
    }
    if members is not None:
        info["members"] = members
    return info


def end_user_info(end_user: EndUserRecord, plan: Plan | None) -> dict[str, Any]:
    """LiteLLM's end-user row: the plan is ``budget_id`` and, in full, ``litellm_budget_table``."""
    return {
        "user_id": end_user.user_id,
        "alias": end_user.alias,
        "budget_id": end_user.budget_id,
        "blocked": end_user.blocked,
        "metadata": dict(end_user.metadata),
        "litellm_budget_table": None if plan is None else plan_info(plan),
        "created_at": iso(end_user.created_at),
        "updated_at": iso(end_user.updated_at),
    }


class PlanEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._plans = management.admin.plans

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /budget/new``."""
        body = await self._m.body(request)
        note_ignored("/budget/new", body, PLAN_FIELDS)
        return plan_info(await self._plans.create(body))

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /budget/update``: ``budget_id`` plus the fields to change."""
        body = await self._m.body(request)
        note_ignored("/budget/update", body, PLAN_FIELDS)
        return plan_info(await self._plans.update(body))

    async def info(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``POST /budget/info`` ``{"budgets": [...]}``: the named plans; 404 for an unknown one."""
        names = Fields(await self._m.body(request)).names("budgets")
        if not names:
            raise InvalidRequestError("Pass 'budgets', a list of plan names.", param="budgets")
        return [plan_info(await self._plans.get(name)) for name in names]

    async def settings(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /budget/info?budget_id=``: one plan, with its member count."""
        plan = await self._plans.get(required_query(request, "budget_id"))
        counts = await self._plans.member_counts()
        return plan_info(plan, counts.get(plan.plan_id, 0))

    async def list_plans(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /budget/list``: every plan (the config's first), each with its member count."""
        counts = await self._plans.member_counts()
        return [plan_info(plan, counts.get(plan.plan_id, 0)) for plan in await self._plans.all()]

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /budget/delete`` ``{"id": ...}`` (LiteLLM) or ``{"budget_ids": [...]}``."""
        fields = Fields(await self._m.body(request))
        ids = list(fields.names("budget_ids") or ())
        single = fields.text("id")
        if single is not None:
            ids.insert(0, single)
        if not ids:
            raise InvalidRequestError("Pass 'id', the plan to delete.", param="id")
        return {"deleted_budgets": await self._plans.delete(ids)}


class CustomerEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._end_users = management.admin.end_users
        self._plans = management.admin.plans

    async def _render(self, end_user: EndUserRecord) -> dict[str, Any]:
        plan = None if end_user.budget_id is None else await self._plans.find(end_user.budget_id)
        return end_user_info(end_user, plan)

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /customer/new``: ``user_id`` and the plan (``budget_id``)."""
        body = await self._m.body(request)
        note_ignored("/customer/new", body, END_USER_FIELDS)
        return await self._render(await self._end_users.create(body))

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /customer/info?end_user_id=``."""
        user_id = request.query.get("end_user_id", "").strip() or required_query(request, "user_id")
        return await self._render(await self._end_users.get(user_id))

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /customer/update``: ``user_id`` plus the fields to change (``budget_id: null``
        takes the end user off their plan)."""
        body = await self._m.body(request)
        note_ignored("/customer/update", body, END_USER_FIELDS)
        return await self._render(await self._end_users.update(body))

    async def list_end_users(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /customer/list``: every end user, oldest first."""
        return [await self._render(end_user) for end_user in await self._end_users.all()]

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /customer/delete`` ``{"user_ids": [...]}``."""
        return {"deleted_customers": await self._end_users.delete(await self._ids(request))}

    async def block(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /customer/block`` ``{"user_ids": [...]}``: their requests are refused (403)."""
        return {"blocked_users": await self._end_users.set_blocked(await self._ids(request), blocked=True)}

    async def unblock(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /customer/unblock`` ``{"user_ids": [...]}``."""
        ids = await self._ids(request)
        return {"unblocked_users": await self._end_users.set_blocked(ids, blocked=False)}

    async def _ids(self, request: Request) -> tuple[str, ...]:
        ids = Fields(await self._m.body(request)).names("user_ids")
        if not ids:
            raise InvalidRequestError("Pass 'user_ids', a list of end user ids.", param="user_ids")
        return ids
