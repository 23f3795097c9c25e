"""The one price function: what a deployment charges, for estimates, records, discovery and billing.

A deployment is priced, in this order, by:

1. its ``model_info`` (``input_cost_per_token``, ``output_cost_per_token`` and the cache rates,
   LiteLLM's names); a rate it leaves out comes from the table, else 0;
2. the shipped price table (genai-prices) for its ``model_info.base_model``, when set;
3. the shipped price table for its own upstream model;
4. nothing: the built-in ``mock`` provider is free, any other model is *unpriced* (``None``).

Budget reservations (:mod:`bastion.gateway.admission`), the cost recorded for every request (and
so the spend totals and billing, which read the records), ``/v2/llm-models/`` and ``/model/info``
all ask :meth:`PriceBook.price`, so they can never disagree about a model's price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bastion.accounting._price_table import ModelFacts, table_facts, table_price
from bastion.accounting._rates import Rates, TieredRates
from bastion.accounting._saved_prices import look_up
from bastion.domain.usage import Usage
from bastion.settings import Deployment

__all__ = ["ModelFacts", "Price", "PriceBook", "Rates", "TieredRates"]

#: Cached look-ups kept at most; wildcard deployments price models named by clients, so a flood of
#: made-up names must not grow memory without bound (dropping the cache costs a few look-ups).
_MAX_CACHED = 10_000
_CUSTOM, _BASE_MODEL, _TABLE, _FREE = "model_info", "base_model", "table", "free"


@dataclass(frozen=True, slots=True)
class Price:
    """What one deployment charges (USD per token), and where the figure comes from.

    ``source`` is ``model_info``, ``base_model``, ``table`` (genai-prices) or ``free`` (the mock).
    """

    rates: TieredRates
    source: str

    @property
    def input(self) -> float:
        """USD per input token (the base tier)."""
        return self.rates.base.input

    @property
    def output(self) -> float:
        """USD per output token (the base tier)."""
        return self.rates.base.output

    def cost(self, usage: Usage) -> float:
        return self.rates.cost(usage)


@dataclass(frozen=True, slots=True)
class _Custom:
    """A deployment's own ``model_info`` rates; ``None`` where it sets none."""

    input: float | None
    output: float | None
    cache_read: float | None
    cache_write: float | None

    def complete(self) -> bool:
        return self.input is not None and self.output is not None

    def over(self, table: Rates) -> Rates:
        return Rates(
            input=table.input if self.input is None else self.input,
            output=table.output if self.output is None else self.output,
            cache_read=table.cache_read if self.cache_read is None else self.cache_read,
            cache_write=table.cache_write if self.cache_write is None else self.cache_write,
        )


class PriceBook:
    """Prices per deployment; build it from the ``model_list`` (``PriceBook(settings.model_list)``)."""

    def __init__(self, deployments: Iterable[Deployment] = ()) -> None:
        self._custom: dict[str, _Custom] = {}
        self._base_models: dict[str, str] = {}
        self._prices: dict[tuple[str | None, str, str], Price | None] = {}
        self._tables: dict[tuple[str, str], TieredRates | None] = {}
        self._facts: dict[tuple[str, str], ModelFacts] = {}
        for dep in deployments:
            self.add(dep)

    def add(self, dep: Deployment) -> None:
        """Take a deployment's ``model_info`` prices and ``base_model`` into account."""
        info = dep.model_info
        if info.base_model:
            self._base_models[dep.deployment_id] = info.base_model
        custom = _Custom(
            info.input_cost_per_token,
            info.output_cost_per_token,
            info.cache_read_input_token_cost,
            info.cache_creation_input_token_cost,
        )
        if custom != _Custom(None, None, None, None):
            self._custom[dep.deployment_id] = custom
        self._prices.clear()

    def price(self, provider: str, model: str, deployment_id: str | None = None) -> Price | None:
        """What a call to ``model`` through ``deployment_id`` costs; ``None``: nobody prices it."""
        key = (deployment_id, provider, model)
        try:
            return self._prices[key]
        except KeyError:
            pass
        found = self._resolve(provider, model, deployment_id)
        if len(self._prices) >= _MAX_CACHED:
            self._prices.clear()
        self._prices[key] = found
        return found

    def price_of(self, dep: Deployment) -> Price | None:
        """:meth:`price` of a deployment as configured (a wildcard's ``*`` is priced as written)."""
        return self.price(dep.provider_alias, dep.model, dep.deployment_id)

    def cost(self, usage: Usage, *, provider: str, model: str, deployment_id: str | None = None) -> float:
        """USD for ``usage``; 0.0 for an unpriced model."""
        found = self.price(provider, model, deployment_id)
        return found.cost(usage) if found is not None else 0.0

    def facts(self, provider: str, model: str) -> ModelFacts:
        """The model's display name and context window from the price table, when it knows them."""
        key = (provider, model)
        found = self._facts.get(key)
        if found is None:
            found = ModelFacts() if provider == "mock" else table_facts(provider, model)
            if len(self._facts) >= _MAX_CACHED:
                self._facts.clear()
            self._facts[key] = found
        return found

    def prefetch(self, deployments: Iterable[Deployment], data_dir: Path) -> None:
        """Look the configured models up in the shipped table without loading it here: from
        ``data_dir``'s saved copy or a child process (see ``_saved_prices``). Blocks (start-up
        runs it in a thread, beside the migrations); :meth:`warm` then finds them cached."""
        fixed = [dep for dep in deployments if "*" not in dep.model]
        wanted = [key for key in map(self._table_key, fixed) if key is not None and key not in self._tables]
        self._tables.update(look_up(wanted, data_dir))

    def warm(self, deployments: Iterable[Deployment]) -> None:
        """Resolve every deployment's price now (start-up), off the request path."""
        for dep in deployments:
            if "*" not in dep.model:
                self.price_of(dep)

    def _table_key(self, dep: Deployment) -> tuple[str, str] | None:
        """Which table entry pricing ``dep`` reads (``None``: none, see :meth:`_resolve`)."""
        custom = self._custom.get(dep.deployment_id)
        if custom is not None and custom.complete():
            return None
        base_model = self._base_models.get(dep.deployment_id)
        if dep.provider_alias == "mock" and not base_model:
            return None
        return (dep.provider_alias, base_model or dep.model)

    def _resolve(self, provider: str, model: str, deployment_id: str | None) -> Price | None:
        custom = self._custom.get(deployment_id) if deployment_id is not None else None
        if custom is not None and custom.complete():
            return Price(TieredRates(custom.over(Rates())), _CUSTOM)
        base_model = self._base_models.get(deployment_id) if deployment_id is not None else None
        # The mock's own model names ("echo") are in no table; a base_model it names may be.
        table = None if provider == "mock" and not base_model else self._table(provider, base_model or model)
        if custom is not None:
            return Price(TieredRates(custom.over(table.base if table is not None else Rates())), _CUSTOM)
        if table is not None:
            return Price(table, _BASE_MODEL if base_model else _TABLE)
        if provider == "mock":
            return Price(TieredRates(Rates()), _FREE)
        return None

    def _table(self, provider: str, model: str) -> TieredRates | None:
        key = (provider, model)
        try:
            return self._tables[key]
        except KeyError:
            pass
        found = table_price(provider, model)
        if len(self._tables) >= _MAX_CACHED:
            self._tables.clear()
        self._tables[key] = found
        return found
