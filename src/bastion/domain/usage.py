"""Token usage in one canonical shape, whatever the provider reported."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Usage"]


@dataclass(slots=True)
class Usage:
    """Tokens one call consumed.

    ``input_tokens`` is the whole prompt, *including* cached reads and cache writes (OpenAI's
    ``prompt_tokens`` convention; Anthropic's ``input_tokens`` must have the cache fields added).
    ``output_tokens`` includes reasoning tokens. The details are subsets of those totals.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens billed at the plain input price."""
        return max(self.input_tokens - self.cache_read_tokens - self.cache_write_tokens, 0)

    def merge(self, other: Usage) -> None:
        """Overwrite fields with the non-zero values of ``other`` (streams report cumulatively)."""
        if other.input_tokens:
            self.input_tokens = other.input_tokens
        if other.output_tokens:
            self.output_tokens = other.output_tokens
        if other.cache_read_tokens:
            self.cache_read_tokens = other.cache_read_tokens
        if other.cache_write_tokens:
            self.cache_write_tokens = other.cache_write_tokens
        if other.reasoning_tokens:
            self.reasoning_tokens = other.reasoning_tokens
