"""Admission: a virtual key's rate limits and budgets, checked before a call and settled after it.

Before the upstream call, one atomic step (one Redis round trip when shared) counts the request
against every rpm/tpm/parallel limit of its key and team and reserves its estimated cost against
every budget, or refuses with a friendly 429 (``retry-after``) or a ``budget_exceeded`` error. After
the call, on every path (success, upstream error, timeout, client gone), the ticket is finished
exactly once with the real tokens and cost, so a burst cannot overspend by more than what is in
flight and no counter leaks. The master key and static keys are never limited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from bastion.accounting.pricing import PriceBook
from bastion.domain.errors import BastionError
from bastion.domain.principal import Principal
from bastion.gateway.context import CallContext
from bastion.gateway.router import Router
from bastion.limits import BudgetLimit, BudgetRefusal, Limits, RateLimit, Refusal
from bastion.limits.estimate import estimate_cost, estimate_tokens
from bastion.observability.metrics import Metrics
from bastion.tasks import TaskSet

__all__ = ["Gatekeeper", "estimate_prompt_tokens"]


class Gatekeeper:
    def __init__(
        self,
        limits: Limits,
        *,
        prices: PriceBook,
        router: Router,
        default_max_tokens: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.limits = limits
        self._metrics = metrics
        self._prices = prices
        self._router = router
        self._default_max_tokens = default_max_tokens
        self._pending = TaskSet("settle-limits")
        #: Billing's credit check (raises a 402 for an org out of credit); None: not configured.
        self.entitlement: Callable[[Principal], Awaitable[None]] | None = None

    async def admit(self, ctx: CallContext, body: dict[str, Any], group: str) -> None:
        """Raise OutOfCreditError, RateLimitError or BudgetExceededError, or note the ticket on ``ctx``."""
        if self.entitlement is not None:
            try:
                await self.entitlement(ctx.principal)
            except BastionError as err:
                if err.status == 402 and self._metrics is not None:  # out of credit
                    self._metrics.refused("credit", "org:")
                raise
        scopes = ctx.principal.limits
        if not scopes:
            return
        rates = [RateLimit(s.scope, s.rpm, s.tpm, s.parallel) for s in scopes if s.limits_rate]
        budgets = [
            BudgetLimit(s.scope, s.max_budget, s.budget_duration) for s in scopes if s.max_budget is not None
        ]
        if not rates and not budgets:
            return
        dep = self._router.group(group)[0]
        prompt = estimate_prompt_tokens(body)
        max_tokens = _max_tokens(body) or dep.model_info.max_output_tokens or self._default_max_tokens
        amount = estimate_cost(
            prompt,
            max_tokens,
            self._prices.rates_for(dep.provider_alias, dep.model_info.base_model or dep.model),
        )
        outcome = await self.limits.gate.admit(
            rates, budgets, tokens=estimate_tokens(prompt, max_tokens), amount=amount
        )
        if isinstance(outcome, Refusal | BudgetRefusal):
            if self._metrics is not None:
                reason = outcome.kind if isinstance(outcome, Refusal) else "budget"
                self._metrics.refused(reason, outcome.scope)
            raise outcome.error()
        ctx.ticket = outcome

    def finish(self, ctx: CallContext) -> None:
        """Settle the ticket with the request's real usage and cost (once; in the background)."""
        ticket, ctx.ticket = ctx.ticket, None
        if ticket is None:
            return
        record = ctx.record
        self._pending.spawn(
            self.limits.gate.finish(
                ticket, actual_tokens=record.usage.total_tokens, actual_cost=record.cost_usd
            )
        )

    async def settled(self) -> None:
        """Return once every finished request's limits are settled (tests, shutdown)."""
        await self._pending.drain()

    async def close(self) -> None:
        """Wait for settlements still running, then close the limits store."""
        await self._pending.drain()
        await self.limits.close()


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
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
    total = 0
    for name in ("messages", "system", "contents", "systemInstruction", "tools"):
        value = body.get(name)
        if value is not None:
            total += len(orjson.dumps(value))
    return max(total // 4, 1)
