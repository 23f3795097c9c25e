"""Plans at admission: the caller's plan's limits, its model list, and its token quota.

:class:`PlanGate` is the admission hook of plans, called by the
:class:`~bastion.gateway.admission.Gatekeeper`:

* :meth:`PlanGate.enter` finds the caller's plan (:mod:`bastion.gateway.plans`), refuses a model
  the plan does not include, and gives the scopes to admit under: the principal's, with the plan's
  rpm/tpm/parallel/budget limits as the member's own scope (in place of ``user_limits``);
* :meth:`PlanGate.hold` reserves the call's estimated tokens against the member's quota, in the
  limits layer's budget ledger (``quota:<member>`` counts tokens instead of dollars: atomic, shared
  through Redis by every process, reserved before the call and settled after it, so concurrent
  calls cannot overrun it by more than what is in flight above its estimates), or refuses with a
  429 in the caller's format: ``retry-after`` until the quota renews and the plan's sentence;
* :meth:`PlanGate.settle` replaces the reservation by the tokens the call really counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from bastion.domain.errors import PermissionDeniedError, RateLimitError
from bastion.domain.plans import DEFAULT_QUOTA_MESSAGE, Plan
from bastion.domain.principal import Principal, ScopeLimits
from bastion.gateway.context import CallContext
from bastion.gateway.plans import Member, PlanDirectory
from bastion.gateway.rate_headers import RateLeft, rate_headers
from bastion.limits import BudgetLedger, BudgetLimit, BudgetRefusal, next_reset, parse_duration
from bastion.limits.seeds import PlanWindows
from bastion.observability.metrics import Metrics

__all__ = ["PlanGate", "QuotaWindow", "quota_sentence"]

#: A member's quota window as the spend loader needs it: ``(quota_duration, count_cache_reads)``.
QuotaWindow = tuple[str | None, bool]
_NO_RENEWAL_MESSAGE = "Your {plan} plan's {limit} tokens are used. Upgrade for more."
_MAX_WINDOWS = 100_000
_W = TypeVar("_W")


class PlanGate:
    def __init__(
        self,
        directory: PlanDirectory,
        budgets: BudgetLedger,
        *,
        metrics: Metrics | None = None,
        windows: PlanWindows | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self._budgets = budgets
        self._metrics = metrics
        self._clock = clock
        #: Each member scope's plan windows, for the spend loader (which reads the same object):
        #: budget windows by scope, quota windows by quota scope.
        self.windows = windows or PlanWindows()
        self.budget_windows = self.windows.budgets
        self.quota_windows = self.windows.quotas

    async def route(self, ctx: CallContext, body: Mapping[str, object], group: str) -> str:
        """The group that serves ``group`` for the caller's plan (its ``model_aliases``), after
        checking the plan includes ``group``; notes the plan on ``ctx`` so :meth:`enter` does not
        look it up again."""
        member = await self._member(ctx, body)
        if member is None:
            return group
        _check_model(member.plan, group)
        return member.plan.model_aliases.get(group, group)

    async def _member(self, ctx: CallContext, body: Mapping[str, object]) -> Member | None:
        if not ctx.plan_known:
            member = await self.directory.member(ctx.principal, body.get("user"))
            ctx.plan_known = True
            if member is not None:
                ctx.plan, ctx.record.plan = member, member.plan.plan_id
                return member
        return ctx.plan

    async def enter(self, ctx: CallContext, body: Mapping[str, object], group: str) -> Sequence[ScopeLimits]:
        """The scopes to admit ``ctx`` under; notes the plan on ``ctx`` and its record."""
        principal = ctx.principal
        checked = ctx.plan_known  # :meth:`route` checked the group the caller asked for
        member = await self._member(ctx, body)
        if member is None:
            return principal.limits
        plan = member.plan
        if not checked:
            _check_model(plan, group)
        own = f"plan:{member.scope}" if member.shares_scope else member.scope
        scopes = [scope for scope in principal.limits if scope.scope != own]
        if plan.limits_rate or plan.max_budget is not None:
            self._note(self.budget_windows, own, plan.budget_duration)
            scopes.append(
                ScopeLimits(
                    own,
                    rpm=plan.rpm_limit,
                    tpm=plan.tpm_limit,
                    parallel=plan.max_parallel_requests,
                    max_budget=plan.max_budget,
                    budget_duration=plan.budget_duration,
                )
            )
        return tuple(scopes)

    async def hold(self, ctx: CallContext, tokens: int) -> None:
        """Reserve ``tokens`` against the member's quota, or raise the plan's friendly 429."""
        member = ctx.plan
        if member is None or member.plan.max_tokens_per_period is None:
            return
        plan, quota = member.plan, member.plan.max_tokens_per_period
        scope = "quota:" + member.scope
        self._note(self.quota_windows, scope, (plan.quota_duration, plan.count_cache_reads))
        limit = BudgetLimit(scope, float(quota), plan.quota_duration)
        outcome = await self._budgets.reserve([limit], float(tokens))
        if isinstance(outcome, BudgetRefusal):
            if self._metrics is not None:
                self._metrics.plan_refusals.labels(plan.plan_id).inc()
                self._metrics.refused("quota", member.scope)
            raise await self._refusal(ctx, plan, outcome)
        ctx.quota = outcome

    def quota_left(self, ctx: CallContext) -> list[RateLeft]:
        """The member's quota as the answer's token headers show it (from the reservation's reply)."""
        member, reservation = ctx.plan, ctx.quota
        if member is None or reservation is None or not reservation.committed:
            return []
        plan = member.plan
        limit = plan.max_tokens_per_period or 0
        now = self._clock()
        reset = next_reset(plan.quota_duration, now) - now if plan.quota_duration is not None else 0.0
        remaining = max(math.floor(limit - reservation.committed[0]), 0)
        return [RateLeft(limit, remaining, reset)]

    async def release(self, ctx: CallContext) -> None:
        """Give the whole reservation back (the call was refused after it was held)."""
        reservation, ctx.quota = ctx.quota, None
        if reservation is not None:
            await self._budgets.settle(reservation, 0.0)

    async def settle(self, ctx: CallContext) -> None:
        """Count the tokens the call used instead of its estimate (once)."""
        reservation, ctx.quota = ctx.quota, None
        member = ctx.plan
        if reservation is None or member is None:
            return
        usage = ctx.record.usage
        counted = member.plan.counted_tokens(
            prompt=usage.input_tokens, completion=usage.output_tokens, cache_read=usage.cache_read_tokens
        )
        await self._budgets.settle(reservation, float(counted))

    async def usage(self, principal: Principal, user: str | None = None) -> dict[str, Any]:
        """What an end user may read of their plan: its limits, and the quota and budget left in
        the current period (``GET /v1/usage/me``). Off the request path: one ledger read each."""
        member = await self.directory.member(principal, user)
        if member is None:
            return {"end_user": principal.end_user or user, "plan": None, "quota": None, "budget": None}
        plan = member.plan
        found: dict[str, Any] = {
            "end_user": member.end_user,
            "plan": {
                "name": plan.plan_id,
                "rpm_limit": plan.rpm_limit,
                "tpm_limit": plan.tpm_limit,
                "max_parallel_requests": plan.max_parallel_requests,
                "max_budget": plan.max_budget,
                "budget_duration": plan.budget_duration,
                "max_tokens_per_period": plan.max_tokens_per_period,
                "quota_duration": plan.quota_duration,
                "models": list(plan.models),
            },
            "quota": None,
            "budget": None,
        }
        now = self._clock()
        if plan.max_tokens_per_period is not None:
            scope = "quota:" + member.scope
            self._note(self.quota_windows, scope, (plan.quota_duration, plan.count_cache_reads))
            state = await self._budgets.state(scope)
            limit = plan.max_tokens_per_period
            reset_at = state.reset_at if plan.quota_duration is not None else None
            found["quota"] = {
                "limit": limit,
                "used": int(state.spent),
                "in_flight": int(state.reserved),
                "remaining": max(int(limit - state.spent - state.reserved), 0),
                "period": plan.quota_duration,
                **_reset(reset_at, now),
            }
        if plan.max_budget is not None:
            own = f"plan:{member.scope}" if member.shares_scope else member.scope
            self._note(self.budget_windows, own, plan.budget_duration)
            state = await self._budgets.state(own)
            reset_at = state.reset_at if plan.budget_duration is not None else None
            found["budget"] = {
                "max_budget": plan.max_budget,
                "spent": round(state.spent, 6),
                "remaining": round(max(plan.max_budget - state.spent - state.reserved, 0.0), 6),
                "period": plan.budget_duration,
                **_reset(reset_at, now),
            }
        return found

    async def _refusal(self, ctx: CallContext, plan: Plan, refusal: BudgetRefusal) -> RateLimitError:
        state = await self._budgets.state(refusal.scope)
        now = self._clock()
        reset_at = state.reset_at if plan.quota_duration is not None else None
        left = max(int(refusal.limit - refusal.spent - refusal.reserved), 0)
        # The refusal says what is left too (the token headers; none for a quota that never renews).
        reset = 0.0 if reset_at is None else max(reset_at - now, 0.0)
        ctx.response_headers += rate_headers(
            ctx.surface, [], [RateLeft(int(refusal.limit), left, reset)], now
        )
        message = quota_sentence(plan, reset_at=reset_at, now=now)
        if left > 0:
            message += (
                f" (This request could use up to {int(refusal.amount):,} tokens and {left:,} are left:"
                " ask for fewer with max_tokens.)"
            )
        retry_after = None if reset_at is None else max(math.ceil(reset_at - now), 1)
        return RateLimitError(message, retry_after=retry_after, code="plan_quota_exceeded")

    @staticmethod
    def _note(windows: dict[str, _W], scope: str, value: _W) -> None:
        if len(windows) >= _MAX_WINDOWS and scope not in windows:
            windows.clear()
        windows[scope] = value


def _check_model(plan: Plan, group: str) -> None:
    if plan.models and group not in plan.models:
        allowed = ", ".join(plan.models)
        raise PermissionDeniedError(
            f"The {plan.plan_id} plan does not include model '{group}'. Models on this plan: {allowed}.",
            code="model_not_in_plan",
        )


def quota_sentence(plan: Plan, *, reset_at: float | None, now: float) -> str:
    """The plan's quota sentence with its placeholders filled in."""
    template = plan.quota_message or (DEFAULT_QUOTA_MESSAGE if reset_at is not None else _NO_RENEWAL_MESSAGE)
    limit = plan.max_tokens_per_period or 0
    return template.format_map(
        {
            "plan": plan.plan_id,
            "limit": f"{limit:,}",
            "period": _period(plan.quota_duration, now),
            "renews": _renews(reset_at),
        }
    )


def _reset(reset_at: float | None, now: float) -> dict[str, Any]:
    if reset_at is None:
        return {"resets_at": None, "resets_in_seconds": None}
    moment = datetime.fromtimestamp(reset_at, UTC).isoformat()
    return {"resets_at": moment, "resets_in_seconds": max(math.ceil(reset_at - now), 0)}


def _period(duration: str | None, now: float) -> str:
    if duration is None:
        return "all time"
    window = parse_duration(duration)
    today = datetime.fromtimestamp(now, UTC)
    if window.unit == "mo" and window.value == 1:
        return today.strftime("%B")
    if (window.unit, window.value) in (("d", 1), ("h", 24)):
        return "today"
    if (window.unit, window.value) in (("d", 7), ("w", 1)):
        return "this week"
    return "this period"


def _renews(reset_at: float | None) -> str:
    if reset_at is None:
        return "no date (this quota does not renew)"
    moment = datetime.fromtimestamp(reset_at, UTC)
    day = f"{moment.day} {moment.strftime('%B')}"
    if moment.hour == moment.minute == 0:
        return day
    return f"{day} at {moment.strftime('%H:%M')} UTC"
