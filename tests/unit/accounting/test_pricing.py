"""PriceBook, the one price function: model_info prices, base models, the shipped table, the free mock."""

from __future__ import annotations

import math
from typing import Any

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.accounting.pricing import PriceBook, Rates
from bastion.domain.usage import Usage
from bastion.settings import Deployment, ModelInfo

# (our provider name, genai-prices provider id, model); the last two have prompt-size tiers.
_MODELS = [
    ("openai", "openai", "gpt-4"),  # no cache prices: cached tokens cost the input rate
    ("openai", "openai", "gpt-4.1-mini"),
    ("gemini", "google", "gemini-2.5-flash"),
    ("anthropic", "anthropic", "claude-sonnet-4-5"),
    ("gemini", "google", "gemini-2.5-pro"),
]
_BOOK = PriceBook()  # shared so the genai-prices look-up happens once per model


@st.composite
def _usages(draw: st.DrawFn) -> Usage:
    """Usage whose input total includes the cache reads and writes, around the 200k tier edge too."""
    input_tokens = draw(st.integers(0, 400_000) | st.integers(199_990, 200_010))
    cache_read = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cache_read))
    output = draw(st.integers(0, 100_000))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def reference_cost(usage: Usage, provider_id: str, model: str) -> float:
    priced = calc_price(
        PriceUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model_ref=model,
        provider_id=provider_id,
    )
    return float(priced.total_price)


@pytest.mark.parametrize(("provider", "provider_id", "model"), _MODELS, ids=[m[2] for m in _MODELS])
@settings(max_examples=40, deadline=None)
@given(usage=_usages())
def test_cost_matches_genai_prices(provider: str, provider_id: str, model: str, usage: Usage) -> None:
    """PriceBook.cost equals genai-prices' total for the same usage, flat and tiered models alike."""
    expected = reference_cost(usage, provider_id, model)
    got = _BOOK.cost(usage, provider=provider, model=model)
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("provider", "model"), [("anthropic", "claude-sonnet-4-5"), ("gemini", "gemini-2.5-pro")]
)
def test_tier_applies_only_above_its_start(provider: str, model: str) -> None:
    """A prompt of exactly 200k tokens pays the base rate; one token more pays the higher tier."""
    at_edge = _BOOK.cost(Usage(input_tokens=200_000), provider=provider, model=model)
    above = _BOOK.cost(Usage(input_tokens=200_001), provider=provider, model=model)
    assert above / 200_001 > 1.5 * at_edge / 200_000


def _dep(model: str, *, deployment_id: str = "dep-1", **info: Any) -> Deployment:
    provider, _, name = model.partition("/")
    return Deployment(
        model_name="group",
        provider="openai" if provider not in ("anthropic", "gemini", "mock") else provider,
        provider_alias=provider,
        model=name,
        api_key=None,
        api_base=None,
        deployment_id=deployment_id,
        model_info=ModelInfo(**info),
    )


def test_unknown_model_is_unpriced() -> None:
    """A model the table does not know, with no model_info prices, has no price and costs 0."""
    book = PriceBook()
    usage = Usage(input_tokens=1000, output_tokens=1000)
    assert book.cost(usage, provider="openai", model="no-such-model-xyz") == 0.0
    assert book.price("openai", "no-such-model-xyz") is None


def test_the_mock_provider_is_free_unless_priced() -> None:
    """The built-in mock costs 0 (a price, not 'unpriced'); model_info prices it like any model."""
    free, priced = _dep("mock/echo"), _dep("mock/echo", deployment_id="m2", input_cost_per_token=0.5)
    book = PriceBook([free, priced])
    found = book.price_of(free)
    assert found is not None and found.source == "free" and found.input == found.output == 0.0
    paid = book.price_of(priced)
    assert paid is not None and paid.source == "model_info" and paid.input == 0.5


def test_model_info_wins_over_price_data() -> None:
    """model_info rates price a deployment, ignoring genai-prices."""
    dep = _dep(
        "openai/gpt-4.1-mini",
        input_cost_per_token=1.0,
        output_cost_per_token=10.0,
        cache_read_input_token_cost=0.5,
        cache_creation_input_token_cost=2.0,
    )
    book = PriceBook([dep])
    usage = Usage(input_tokens=100, output_tokens=3, cache_read_tokens=20, cache_write_tokens=10)
    cost = book.cost(usage, provider="openai", model="gpt-4.1-mini", deployment_id="dep-1")
    assert cost == pytest.approx(70 * 1.0 + 20 * 0.5 + 10 * 2.0 + 3 * 10.0)
    found = book.price_of(dep)
    assert found is not None and found.source == "model_info"


def test_model_info_applies_only_to_its_deployment() -> None:
    """Another deployment of the same model keeps the genai-prices rates."""
    book = PriceBook([_dep("openai/gpt-4.1-mini", input_cost_per_token=1.0, output_cost_per_token=1.0)])
    usage = Usage(input_tokens=1000, output_tokens=1000)
    other = book.cost(usage, provider="openai", model="gpt-4.1-mini", deployment_id="dep-2")
    assert other == pytest.approx(reference_cost(usage, "openai", "gpt-4.1-mini"))


def test_a_rate_model_info_leaves_out_comes_from_the_table() -> None:
    """Only input_cost_per_token set: the output rate is the table's for the model (else 0)."""
    known = _dep("openai/gpt-4.1-mini", input_cost_per_token=1e-6)
    unknown = _dep("openai/my-llama", deployment_id="local", input_cost_per_token=1e-6)
    book = PriceBook([known, unknown])
    table = book.price("openai", "gpt-4.1-mini")
    one, other = book.price_of(known), book.price_of(unknown)
    assert table is not None and one is not None and other is not None
    assert (one.input, one.output) == (1e-6, table.output)
    assert (other.input, other.output) == (1e-6, 0.0)


def test_rates_without_cache_rates_bill_cache_as_input() -> None:
    """Rates with no cache prices charge cached tokens at the input rate."""
    rates = Rates(input=2.0, output=5.0)
    usage = Usage(input_tokens=10, output_tokens=1, cache_read_tokens=4, cache_write_tokens=3)
    assert rates.cost(usage) == pytest.approx(10 * 2.0 + 5.0)


def test_model_info_makes_an_unknown_model_priced() -> None:
    """A self-hosted model genai-prices does not know is priced by its model_info."""
    book = PriceBook([_dep("openai/my-llama", input_cost_per_token=1e-6, output_cost_per_token=2e-6)])
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert book.cost(usage, provider="openai", model="my-llama", deployment_id="dep-1") == pytest.approx(3.0)


def test_base_model_prices_a_deployment_as_another_model() -> None:
    """model_info.base_model makes a custom-named deployment cost what its base model costs."""
    book = PriceBook([_dep("openai/my-company-gpt", deployment_id="azure-dep", base_model="gpt-4.1-mini")])
    usage = Usage(input_tokens=5000, output_tokens=700, cache_read_tokens=1000)
    cost = book.cost(usage, provider="openai", model="my-company-gpt", deployment_id="azure-dep")
    assert cost > 0
    assert cost == pytest.approx(reference_cost(usage, "openai", "gpt-4.1-mini"))
    assert book.cost(usage, provider="openai", model="my-company-gpt") == 0.0
    found = book.price("openai", "my-company-gpt", "azure-dep")
    assert found is not None and found.source == "base_model"


def test_price_gives_base_rates_per_token() -> None:
    """price() gives USD per token (the base tier for tiered models)."""
    flat = _BOOK.price("openai", "gpt-4.1-mini")
    tiered = _BOOK.price("anthropic", "claude-sonnet-4-5")
    assert flat is not None and flat.source == "table"
    assert tiered is not None
    assert flat.input == pytest.approx(0.4e-6)
    assert flat.output == pytest.approx(1.6e-6)
    assert tiered.input == pytest.approx(3e-6)
    assert tiered.rates.base.cache_write == pytest.approx(3.75e-6)


def test_zero_usage_costs_nothing() -> None:
    """No tokens cost nothing, even for a priced model."""
    assert _BOOK.cost(Usage(), provider="anthropic", model="claude-sonnet-4-5") == 0.0


def test_made_up_model_names_do_not_grow_the_cache_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wildcard deployments price names clients choose: the look-up caches stay bounded."""
    import bastion.accounting.pricing as pricing

    monkeypatch.setattr(pricing, "_MAX_CACHED", 50)
    monkeypatch.setattr(pricing, "table_price", lambda provider, model: None)
    book = PriceBook()
    for n in range(500):
        assert book.price("openai", f"made-up-{n}") is None
    assert len(book._prices) <= 50 and len(book._tables) <= 50


def test_the_model_catalog_shows_the_price_calls_are_charged(tmp_path: Any) -> None:
    """/v2/llm-models/ prices each group with the one price function: model_info, base_model, the
    table, the free mock, and no price for an unpriced model."""
    import yaml

    from bastion.accounts.catalog import ModelCatalog
    from bastion.gateway.credentials import CredentialChooser, SystemKeys
    from bastion.settings import load_settings
    from bastion.store import UserRecord

    def entry(group: str, model: str, **info: Any) -> dict[str, Any]:
        params = {"model": model, "api_base": "http://upstream/v1", "api_key": "sk-x"}
        return {"model_name": group, "litellm_params": params, "model_info": info}

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    entry("info", "openai/my-llama", input_cost_per_token=1e-6, output_cost_per_token=3e-6),
                    entry("base", "openai/company-gpt", base_model="gpt-4.1-mini"),
                    entry("table", "openai/gpt-4.1-mini"),
                    entry("unpriced", "openai/my-mystery"),
                    {"model_name": "mock", "litellm_params": {"model": "mock/echo"}},
                ]
            }
        )
    )
    settings = load_settings(config, environ={})
    catalog = ModelCatalog(settings, PriceBook(settings.model_list), CredentialChooser(SystemKeys()))
    shown = {
        m.name: (m.input_price_per_million, m.output_price_per_million)
        for m in catalog.models_for(UserRecord("u"), {})
    }
    assert shown == {
        "info": (1.0, 3.0),
        "base": (0.4, 1.6),
        "table": (0.4, 1.6),
        "unpriced": (None, None),
        "mock": (0.0, 0.0),
    }
