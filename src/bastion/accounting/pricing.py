"""What a call cost, from the genai-prices data with per-deployment overrides from ``model_info``.

genai-prices computes in ``Decimal`` and takes about 150 microseconds a call, too slow to run for
every request. So each (provider, model) is looked up once and its per-token rates (with the
prompt-size tiers the data has) are cached as floats. Config overrides (``input_cost_per_token``
and friends, LiteLLM's names) always win.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bastion.domain.usage import Usage

__all__ = ["ModelFacts", "PriceBook", "Rates"]

_log = logging.getLogger("bastion.pricing")

# genai-prices provider ids for the provider names of the config (``provider/model``). A name not
# listed (vLLM, Ollama...) is looked up without a provider, which finds well-known model names.
_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "azure": "azure",
    "groq": "groq",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "xai": "x-ai",
}


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        cache_read = self.cache_read if self.cache_read is not None else self.input
        cache_write = self.cache_write if self.cache_write is not None else self.input
        return (
            usage.uncached_input_tokens * self.input
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
            + usage.output_tokens * self.output
        )


@dataclass(frozen=True, slots=True)
class _TieredRates:
    """Rates that change with the prompt size (tier applies when input tokens exceed its start)."""

    base: Rates
    tiers: tuple[tuple[int, Rates], ...]  # highest start first

    def cost(self, usage: Usage) -> float:
        for start, rates in self.tiers:
            if usage.input_tokens > start:
                return rates.cost(usage)
        return self.base.cost(usage)


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the pricing data says about a model besides its price (for model discovery)."""

    name: str | None = None
    context_window: int | None = None


_UNKNOWN = object()


class PriceBook:
    """Prices per deployment; ``cost()`` returns USD, or 0.0 for a model nobody prices."""

    def __init__(self) -> None:
        self._resolved: dict[tuple[str, str], Rates | _TieredRates | object] = {}
        self._overrides: dict[str, Rates] = {}
        self._base_models: dict[str, str] = {}
        self._facts: dict[tuple[str, str], ModelFacts] = {}

    def set_override(self, deployment_id: str, rates: Rates) -> None:
        self._overrides[deployment_id] = rates

    def set_base_model(self, deployment_id: str, model: str) -> None:
        """Price a deployment as another model (LiteLLM's ``model_info.base_model``)."""
        self._base_models[deployment_id] = model

    def rates_for(self, provider: str, model: str) -> Rates | None:
        """Flat rates for a model when known (used for budget estimates and model discovery)."""
        found = self._lookup(provider, model)
        if isinstance(found, _TieredRates):
            return found.base
        return found if isinstance(found, Rates) else None

    def facts(self, provider: str, model: str) -> ModelFacts:
        """The model's display name and context window from the pricing data, when it knows them."""
        key = (provider, model)
        found = self._facts.get(key)
        if found is None:
            found = self._facts[key] = _facts(provider, model)
        return found

    def cost(self, usage: Usage, *, provider: str, model: str, deployment_id: str | None = None) -> float:
        if deployment_id is not None:
            override = self._overrides.get(deployment_id)
            if override is not None:
                return override.cost(usage)
            model = self._base_models.get(deployment_id, model)
        found = self._lookup(provider, model)
        if isinstance(found, Rates | _TieredRates):
            return found.cost(usage)
        return 0.0

    def _lookup(self, provider: str, model: str) -> Rates | _TieredRates | object:
        key = (provider, model)
        found = self._resolved.get(key)
        if found is None:
            found = _resolve(provider, model)
            self._resolved[key] = found
        return found


def _resolve(provider: str, model: str) -> Rates | _TieredRates | object:
    try:
        from genai_prices import Usage as PUsage
        from genai_prices import calc_price
    except ImportError:  # pragma: no cover - a hard dependency, but pricing must never break serving
        return _UNKNOWN
    try:
        provider_id = _PROVIDER_IDS.get(provider)
        calc = calc_price(PUsage(input_tokens=1, output_tokens=1), model_ref=model, provider_id=provider_id)
    except Exception:  # LookupError for unknown models; any data problem means "unpriced"
        _log.info("no price data for %s/%s; its cost is recorded as 0", provider, model)
        return _UNKNOWN
    price = calc.model_price
    fields = {name: getattr(price, name, None) for name in _RATE_FIELDS}
    starts = sorted(
        {tier.start for value in fields.values() for tier in getattr(value, "tiers", ())}, reverse=True
    )
    base = _rates_at(fields, None)
    if not starts:
        return base
    return _TieredRates(base, tuple((start, _rates_at(fields, start)) for start in starts))


def _facts(provider: str, model: str) -> ModelFacts:
    try:
        from genai_prices import Usage as PUsage
        from genai_prices import calc_price

        calc = calc_price(
            PUsage(input_tokens=1, output_tokens=1), model_ref=model, provider_id=_PROVIDER_IDS.get(provider)
        )
    except Exception:  # unknown model, or a data problem: nothing to say about it
        return ModelFacts()
    window = getattr(calc.model, "context_window", None)
    name = getattr(calc.model, "name", None)
    return ModelFacts(
        name=name if isinstance(name, str) else None,
        context_window=window if isinstance(window, int) else None,
    )


_RATE_FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_PER_MTOK = Decimal(1_000_000)


def _rates_at(fields: dict[str, Any], start: int | None) -> Rates:
    def rate(name: str) -> float | None:
        value = fields[name]
        if value is None:
            return None
        if not isinstance(value, Decimal):  # TieredPrices: the highest tier at or below `start`
            chosen = value.base
            if start is not None:
                for tier in value.tiers:
                    if tier.start <= start:
                        chosen = tier.price
            value = chosen
        return float(value / _PER_MTOK)

    return Rates(
        input=rate("input_mtok") or 0.0,
        output=rate("output_mtok") or 0.0,
        cache_read=rate("cache_read_mtok"),
        cache_write=rate("cache_write_mtok"),
    )
