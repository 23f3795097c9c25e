"""Rate-limit headers as OpenAI and Anthropic write them: what is left of a limit, and when it resets.

- OpenAI: ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
  ``x-ratelimit-reset-requests`` (a duration such as ``6m0s``) and the ``-tokens`` variants.
- Anthropic: ``anthropic-ratelimit-requests-limit``, ``-remaining``, ``-reset`` (an RFC 3339 time)
  and the ``anthropic-ratelimit-tokens-*`` variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["RateLeft", "anthropic_rate_headers", "openai_rate_headers"]

Header = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class RateLeft:
    """One limit: ``remaining`` of ``limit`` left, all of it again in ``reset`` seconds."""

    limit: int
    remaining: int
    reset: float


def openai_rate_headers(requests: RateLeft | None, tokens: RateLeft | None, now: float) -> list[Header]:
    headers: list[Header] = []
    for kind, left in (("requests", requests), ("tokens", tokens)):
        if left is not None:
            headers += [
                (f"x-ratelimit-limit-{kind}".encode(), str(left.limit).encode()),
                (f"x-ratelimit-remaining-{kind}".encode(), str(left.remaining).encode()),
                (f"x-ratelimit-reset-{kind}".encode(), _duration(left.reset).encode()),
            ]
    return headers


def anthropic_rate_headers(requests: RateLeft | None, tokens: RateLeft | None, now: float) -> list[Header]:
    headers: list[Header] = []
    for kind, left in (("requests", requests), ("tokens", tokens)):
        if left is not None:
            reset = datetime.fromtimestamp(now + math.ceil(left.reset), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            headers += [
                (f"anthropic-ratelimit-{kind}-limit".encode(), str(left.limit).encode()),
                (f"anthropic-ratelimit-{kind}-remaining".encode(), str(left.remaining).encode()),
                (f"anthropic-ratelimit-{kind}-reset".encode(), reset.encode()),
            ]
    return headers


def _duration(seconds: float) -> str:
    """OpenAI's way: ``20ms``, ``1s``, ``6m0s``, ``2h3m4s``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
