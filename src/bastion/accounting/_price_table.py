"""The shipped price table (genai-prices), read once per model and kept as float rates per token.

genai-prices computes in ``Decimal`` and takes about 150 microseconds a call, too slow to run for
every request, so :func:`table_price` asks it once per (provider, model) and turns the answer into
:class:`~bastion.accounting.pricing.Rates` (with the prompt-size tiers the data has). The caller
caches the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bastion.accounting._rates import Rates, TieredRates

__all__ = ["ModelFacts", "table_facts", "table_price"]

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

_RATE_FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_PER_MTOK = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the pricing data says about a model besides its price (for model discovery)."""

    name: str | None = None
    context_window: int | None = None


def _calc(provider: str, model: str) -> Any:
    from genai_prices import Usage as PUsage  # loaded on first use: ~10 MiB a plain gateway may skip
    from genai_prices import calc_price

    return calc_price(
        PUsage(input_tokens=1, output_tokens=1), model_ref=model, provider_id=_PROVIDER_IDS.get(provider)
    )


def table_price(provider: str, model: str) -> TieredRates | None:
    """The table's rates for ``model`` at ``provider``; ``None`` when the table does not know it."""
    try:
        calc = _calc(provider, model)
    except Exception:  # LookupError for unknown models; any data problem means "unpriced"
        _log.info("the price table has no price for %s/%s", provider, model)
        return None
    price = calc.model_price
    fields = {name: getattr(price, name, None) for name in _RATE_FIELDS}
    starts = sorted(
        {tier.start for value in fields.values() for tier in getattr(value, "tiers", ())}, reverse=True
    )
    return TieredRates(_rates_at(fields, None), tuple((start, _rates_at(fields, start)) for start in starts))


def table_facts(provider: str, model: str) -> ModelFacts:
    """The model's display name and context window from the table, when it knows them."""
    try:
        calc = _calc(provider, model)
    except Exception:  # unknown model, or a data problem: nothing to say about it
        return ModelFacts()
    window = getattr(calc.model, "context_window", None)
    name = getattr(calc.model, "name", None)
    return ModelFacts(
        name=name if isinstance(name, str) else None,
        context_window=window if isinstance(window, int) else None,
    )


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
