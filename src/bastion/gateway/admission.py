"""Admission: a virtual key's rate limits and budgets, checked before a call and settled after it.

Before the upstream call, one atomic step (one Redis round trip when shared) counts the request
against every rpm/tpm/parallel limit of its key and team and reserves its estimated cost against
every budget, or refuses with a friendly 429 (``retry-after``) or a ``budget_exceeded`` error. After
the call, on every path (success, upstream error, timeout, client gone), the ticket is finished
exactly once with the real tokens and cost, so a burst cannot overspend by more than what is in
flight and no counter leaks. The master key and static keys are never limited.

The estimate prices the call with the one price function (:class:`~bastion.accounting.pricing.
PriceBook`), as the most any deployment that may serve it charges: every deployment of the group
and of its fallback groups. A model nobody prices cannot be held to a budget, so a call that a
budget covers is refused unless ``allow_unpriced`` (``bastion_settings.
allow_unpriced_models_with_budgets``) lets it through at no cost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bastion.accounting.pricing import Price, PriceBook
from bastion.domain.errors import BastionError
from bastion.domain.principal import Principal
from bastion.gateway.context import CallContext
from bastion.gateway.plan_admission import PlanGate
from bastion.gateway.rate_headers import rate_headers, rate_limit_lefts, refusal_lefts
from bastion.gateway.router import Router, wildcard_part
from bastion.limits import BudgetLimit, BudgetRefusal, Limits, RateLimit, Refusal, Ticket
from bastion.limits.errors import UnpricedModelError
from bastion.limits.estimate import estimate_cost, estimate_tokens
from bastion.observability.metrics import Metrics
from bastion.protocols.token_estimate import estimate_body_tokens
from bastion.settings import Deployment
from bastion.tasks import TaskSet

__all__ = ["Gatekeeper", "estimate_prompt_tokens"]

_log = logging.getLogger("bastion.limits")


class Gatekeeper:
    def __init__(
        self,
        limits: Limits,
        *,
        prices: PriceBook,
        router: Router,
        default_max_tokens: int,
        metrics: Metrics | None = None,
        allow_unpriced: bool = False,
        entitlement: Callable[[Principal], Awaitable[None]] | None = None,
        plans: PlanGate | None = None,
    ) -> None:
        self.limits = limits
        self._metrics = metrics
        self._prices = prices
        self._router = router
        self._default_max_tokens = default_max_tokens
        self._allow_unpriced = allow_unpriced
        #: Per model group (without wildcards): the deployments that may serve it, with their prices.
        self._candidates: dict[str, tuple[tuple[Deployment, Price | None], ...]] = {}
        self._pending = TaskSet("settle-limits")
        #: The gate's settlement as a plain call, when it waits for nothing (limits in memory).
        self._finish_now: Callable[..., None] | None = getattr(limits.gate, "finish_now", None)
        #: Plain-call settlements queued on the loop and not run yet; set when none is left.
        self._settling = 0
        self._all_settled: asyncio.Event | None = None
        #: Billing's credit check (raises a 402 for an org out of credit); None: not configured.
        self._entitlement = entitlement
        #: Plans (limits, model lists, token quotas of end users); None: no plans.
        self.plans = plans

    async def admit(self, ctx: CallContext, body: dict[str, Any], group: str) -> None:
        """Raise OutOfCreditError, RateLimitError or BudgetExceededError, or note the ticket on ``ctx``."""
        if self._entitlement is not None:
            try:
                await self._entitlement(ctx.principal)
            except BastionError as err:
                if err.status == 402 and self._metrics is not None:  # out of credit
                    self._metrics.refused("credit", "org:")
                raise
        plans = self.plans
        scopes = ctx.principal.limits if plans is None else await plans.enter(ctx, body, group)
        quota = ctx.plan is not None and ctx.plan.plan.has_quota
        if not scopes and not quota:
            return
        rates = [RateLimit(s.scope, s.rpm, s.tpm, s.parallel) for s in scopes if s.limits_rate]
        budgets = [
            BudgetLimit(s.scope, s.max_budget, s.budget_duration) for s in scopes if s.max_budget is not None
        ]
        if not rates and not budgets and not quota:
            return
        prompt, cache_writes = estimate_body_tokens(body)
        asked = _max_tokens(body)
        first = self._router.group(group)[0]
        max_tokens = asked or first.model_info.max_output_tokens or self._default_max_tokens
        amount = self._estimate(group, ctx.requested_model, prompt, asked, cache_writes) if budgets else 0.0
        tokens = estimate_tokens(prompt, max_tokens)
        if quota and plans is not None:
            await plans.hold(ctx, tokens)  # the plan's friendly 429 when its quota is used up
        try:
            outcome = await self.limits.gate.admit(rates, budgets, tokens=tokens, amount=amount)
        except BaseException:
            if plans is not None:
                await plans.release(ctx)
            raise
        if isinstance(outcome, Refusal | BudgetRefusal):
            if plans is not None:
                await plans.release(ctx)
            if self._metrics is not None:
                reason = outcome.kind if isinstance(outcome, Refusal) else "budget"
                self._metrics.refused(reason, outcome.scope)
            if isinstance(outcome, Refusal):  # the limit that refused, as the client's headers
                ctx.response_headers += rate_headers(ctx.surface, *refusal_lefts(outcome), time.time())
            raise outcome.error()
        ctx.ticket = outcome
        request_lefts, token_lefts = rate_limit_lefts(outcome.admission)
        if plans is not None:
            token_lefts += plans.quota_left(ctx)
        ctx.response_headers += rate_headers(ctx.surface, request_lefts, token_lefts, time.time())

    def _estimate(
        self, group: str, requested: str, prompt: int, asked: int | None, cache_writes: bool
    ) -> float:
        """The most the call may cost on any deployment that may serve it (see the module doc)."""
        amount = 0.0
        for dep, price in self._priced(group, requested):
            if price is None:
                if not self._allow_unpriced:
                    raise UnpricedModelError(group)
                continue
            max_tokens = asked or dep.model_info.max_output_tokens or self._default_max_tokens
            amount = max(amount, estimate_cost(prompt, max_tokens, price, cache_writes=cache_writes))
        return amount

    def _priced(self, group: str, requested: str) -> tuple[tuple[Deployment, Price | None], ...]:
        found = self._candidates.get(group)
        if found is not None:
            return found
        candidates: list[tuple[Deployment, Price | None]] = []
        wildcard = False
        for name in self._router.chain(group):
            for dep in self._router.group(name):
                model = dep.model
                if "*" in model:  # priced as the model the request names, as the call will be
                    wildcard = True
                    part = wildcard_part(name, requested) if "*" in name else None
                    model = model.replace("*", part if part is not None else requested)
                candidates.append((dep, self._prices.price(dep.provider_alias, model, dep.deployment_id)))
        if not wildcard:  # a wildcard's price depends on the request; the others never change
            self._candidates[group] = tuple(candidates)
        return tuple(candidates)

    def finish(self, ctx: CallContext) -> None:
        """Settle the ticket with the request's real usage and cost (once; in the background)."""
        if ctx.quota is not None and self.plans is not None:
            self._pending.spawn(self.plans.settle(ctx))
        ticket, ctx.ticket = ctx.ticket, None
        if ticket is None:
            return
        record = ctx.record
        if self._finish_now is not None:
            # Limits in this process's memory: settled by a plain call right after this turn of the
            # event loop (which writes the answer), as a task's first step would be, without the task.
            self._settling += 1
            asyncio.get_running_loop().call_soon(
                self._settle_now, ticket, record.usage.total_tokens, record.cost_usd
            )
            return
        self._pending.spawn(
            self.limits.gate.finish(
                ticket, actual_tokens=record.usage.total_tokens, actual_cost=record.cost_usd
            )
        )

    def _settle_now(self, ticket: Ticket, tokens: int, cost: float) -> None:
        assert self._finish_now is not None
        try:
            self._finish_now(ticket, actual_tokens=tokens, actual_cost=cost)
        except Exception:  # as a failed settlement task is logged by the task supervisor
            _log.exception("settling a request's limits failed")
        finally:
            self._settling -= 1
            if not self._settling and self._all_settled is not None:
                self._all_settled.set()

    async def settled(self) -> None:
        """Return once every finished request's limits are settled (tests, shutdown)."""
        if self._settling:  # plain calls already queued on the loop
            if self._all_settled is None or self._all_settled.is_set():
                self._all_settled = asyncio.Event()
            await self._all_settled.wait()
        await self._pending.drain()

    async def close(self) -> None:
        """Wait for settlements still running, then close the limits store."""
        await self._pending.drain()
        await self.limits.close()


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > 0:
            return value
    config = body.get("generationConfig")
    if isinstance(config, dict):
        value = config.get("maxOutputTokens")
        if isinstance(value, int) and value > 0:
            return value
    return None


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """About four characters a token over what the model reads."""
    return estimate_body_tokens(body)[0]
