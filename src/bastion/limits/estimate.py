"""What a request may cost at most, reserved against budgets (and tpm) before it is sent.

The estimate is an upper bound on purpose: the whole prompt at the input rate (cache reads are
cheaper, never dearer; a prompt that asks for a cache write, dearer on Anthropic, at the cache-write
rate) and every allowed output token at the output rate, at the prompt-size tier the prompt falls
in. Settling replaces it with the real cost,
so a generous estimate only holds budget back while the call is in flight.
"""

from __future__ import annotations

from bastion.accounting.pricing import Price, Rates, TieredRates

__all__ = ["estimate_cost", "estimate_tokens"]


def estimate_cost(
    prompt_tokens_estimate: int,
    max_tokens: int,
    price: Price | TieredRates | Rates | None,
    *,
    cache_writes: bool = False,
) -> float:
    """USD to reserve: the prompt at the input rate plus ``max_tokens`` at the output rate.

    ``max_tokens`` is the request's ``max_tokens``/``max_completion_tokens``/``maxOutputTokens``,
    else the model's output limit; ``cache_writes``: the prompt asks for a cache write. An unpriced
    model (``price`` is ``None``) reserves nothing: the caller decides whether it may be called at
    all (see :mod:`bastion.gateway.admission`).
    """
    if price is None:
        return 0.0
    prompt = max(prompt_tokens_estimate, 0)
    if isinstance(price, Price):
        price = price.rates
    rates = price.at(prompt) if isinstance(price, TieredRates) else price
    per_input = max(rates.input, rates.cache_write or 0.0) if cache_writes else rates.input
    return prompt * per_input + max(max_tokens, 0) * rates.output


def estimate_tokens(prompt_tokens_estimate: int, max_tokens: int) -> int:
    """Tokens to count against tpm at admission; ``release`` corrects it with the real count."""
    return max(prompt_tokens_estimate, 0) + max(max_tokens, 0)
