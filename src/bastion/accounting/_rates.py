"""Per-token rates: flat, or changing with the prompt's size (the tiers some providers charge)."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.domain.usage import Usage

__all__ = ["Rates", "TieredRates"]


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token; cache reads and writes cost the input rate when they have no rate of their own."""

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
class TieredRates:
    """Rates that change with the prompt size: a tier applies when input tokens exceed its start."""

    base: Rates
    tiers: tuple[tuple[int, Rates], ...] = ()  # highest start first

    def at(self, input_tokens: int) -> Rates:
        """The rates a prompt of ``input_tokens`` pays."""
        for start, rates in self.tiers:
            if input_tokens > start:
                return rates
        return self.base

    def cost(self, usage: Usage) -> float:
        return self.at(usage.input_tokens).cost(usage)
