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

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from bastion.accounting.pricing import Price, PriceBook
from bastion.domain.errors import BastionError
from bastion.domain.principal import Principal
from bastion.gateway.context import CallContext
from bastion.gateway.router import Router, wildcard_part
from bastion.limits import BudgetLimit, BudgetRefusal, Limits, RateLimit, Refusal
from bastion.limits.errors import UnpricedModelError
from bastion.limits.estimate import estimate_cost, estimate_tokens
from bastion.observability.metrics import Metrics
from bastion.settings import Deployment
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
        allow_unpriced: bool = False,
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
        prompt, cache_writes = _prompt_estimate(body)
        asked = _max_tokens(body)
        first = self._router.group(group)[0]
        max_tokens = asked or first.model_info.max_output_tokens or self._default_max_tokens
        amount = self._estimate(group, ctx.requested_model, prompt, asked, cache_writes) if budgets else 0.0
        outcome = await self.limits.gate.admit(
            rates, budgets, tokens=estimate_tokens(prompt, max_tokens), amount=amount
        )
        if isinstance(outcome, Refusal | BudgetRefusal):
            if self._metrics is not None:
                reason = outcome.kind if isinstance(outcome, Refusal) else "budget"
                self._metrics.refused(reason, outcome.scope)
            raise outcome.error()
        ctx.ticket = outcome

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


#: What the model reads: chat messages (OpenAI, Anthropic, Gemini), tools, and the ``input`` of
#: embeddings and the Responses API.
_PROMPT_FIELDS = ("messages", "system", "contents", "systemInstruction", "tools", "input", "instructions")


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """About four characters a token over what the model reads."""
    return _prompt_estimate(body)[0]


def _prompt_estimate(body: Mapping[str, Any]) -> tuple[int, bool]:
    """:func:`estimate_prompt_tokens`, and whether the prompt asks the provider to write a cache
    (Anthropic's ``cache_control`` markers, priced above plain input)."""
    total = 0
    cache_writes = False
    for name in _PROMPT_FIELDS:
        value = body.get(name)
        if value is not None:
            text = orjson.dumps(value)
            total += len(text)
            cache_writes = cache_writes or b'"cache_control"' in text
    return max(total // 4, 1), cache_writes
