"""Admission estimates: an upper bound on cost and tokens, reserved until the real numbers arrive."""

from __future__ import annotations

import pytest

from bastion.accounting.pricing import Price, Rates, TieredRates
from bastion.limits.estimate import estimate_cost, estimate_tokens


def test_cost_is_prompt_at_input_rate_plus_max_output() -> None:
    """The whole prompt at the input price and every allowed output token at the output price."""
    rates = Rates(input=3e-6, output=15e-6, cache_read=0.3e-6)
    assert estimate_cost(1000, 500, rates) == pytest.approx(1000 * 3e-6 + 500 * 15e-6)


def test_unpriced_model_reserves_nothing() -> None:
    """A model without prices (a local vLLM) holds no budget back."""
    assert estimate_cost(1000, 500, None) == 0.0


def test_negative_inputs_count_as_zero() -> None:
    """A broken estimate can never turn a reservation into a credit."""
    rates = Rates(input=1.0, output=2.0)
    assert estimate_cost(-5, -1, rates) == 0.0
    assert estimate_tokens(-5, 10) == 10


def test_tokens_are_prompt_plus_max_output() -> None:
    """tpm counts the prompt and the output allowance at admission."""
    assert estimate_tokens(1200, 800) == 2000


def test_cost_takes_the_tier_of_the_prompt_and_the_dearer_cache_write_rate() -> None:
    """A long prompt reserves at its tier's rates; a prompt asking for a cache write reserves at the
    cache-write rate when it is dearer than input."""
    tiered = TieredRates(Rates(input=1.0, output=2.0), ((100, Rates(input=10.0, output=20.0)),))
    assert estimate_cost(100, 1, tiered) == pytest.approx(100 * 1.0 + 2.0)
    assert estimate_cost(101, 1, tiered) == pytest.approx(101 * 10.0 + 20.0)
    writes = Price(TieredRates(Rates(input=1.0, output=0.0, cache_write=1.25)), "table")
    assert estimate_cost(8, 0, writes) == pytest.approx(8.0)
    assert estimate_cost(8, 0, writes, cache_writes=True) == pytest.approx(10.0)
