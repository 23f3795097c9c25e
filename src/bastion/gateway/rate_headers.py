"""The rate-limit headers of an answer: what is left of the tightest limit, as OpenAI and Anthropic say it.

Admission already knows every level it just counted (the limits layer reports them with the
admission, :attr:`~bastion.limits.Admission.levels`, and a quota's reservation,
:attr:`~bastion.limits.Reservation.committed`), so the headers cost no extra round trip. Of all the
limits that apply (key, team, user, end user, plan), the one with the fewest requests (tokens) left
is reported; a tie goes to the one that takes longer to reset.

- OpenAI surface: ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
  ``x-ratelimit-reset-requests`` (a duration such as ``6m0s``) and the ``-tokens`` variants.
- Anthropic surface: ``anthropic-ratelimit-requests-limit``, ``-remaining``, ``-reset`` (an RFC 3339
  time) and the ``anthropic-ratelimit-tokens-*`` variants.

A rate limit of N per minute is a leaky bucket: it is back to N left once its level has drained, so
its reset is the level's drain time. A quota resets when its period renews.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bastion.limits import Admission
from bastion.limits._bucket import WINDOW

__all__ = ["Left", "rate_headers", "rate_limit_lefts"]

Header = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Left:
    """One limit as the headers show it: ``remaining`` of ``limit``, full again in ``reset`` seconds."""

    limit: int
    remaining: int
    reset: float


def rate_limit_lefts(admission: Admission | None) -> tuple[list[Left], list[Left]]:
    """The requests and tokens left under each rate limit of ``admission``."""
    requests: list[Left] = []
    tokens: list[Left] = []
    if admission is None:
        return requests, tokens
    for limit, (request_level, token_level) in zip(admission.limits, admission.levels, strict=False):
        if limit.rpm is not None and request_level is not None:
            requests.append(_left(limit.rpm, request_level))
        if limit.tpm is not None and token_level is not None:
            tokens.append(_left(limit.tpm, token_level))
    return requests, tokens


def rate_headers(surface: str, requests: Sequence[Left], tokens: Sequence[Left], now: float) -> list[Header]:
    """The headers of the tightest request and token limits, for ``surface`` (none for others)."""
    if surface not in ("openai", "anthropic"):
        return []
    headers: list[Header] = []
    for kind, lefts in (("requests", requests), ("tokens", tokens)):
        if not lefts:
            continue
        tightest = min(lefts, key=lambda left: (left.remaining, -left.reset))
        if surface == "openai":
            headers += [
                (f"x-ratelimit-limit-{kind}".encode(), str(tightest.limit).encode()),
                (f"x-ratelimit-remaining-{kind}".encode(), str(tightest.remaining).encode()),
                (f"x-ratelimit-reset-{kind}".encode(), _duration(tightest.reset).encode()),
            ]
        else:
            moment = datetime.fromtimestamp(now + math.ceil(tightest.reset), UTC)
            headers += [
                (f"anthropic-ratelimit-{kind}-limit".encode(), str(tightest.limit).encode()),
                (f"anthropic-ratelimit-{kind}-remaining".encode(), str(tightest.remaining).encode()),
                (
                    f"anthropic-ratelimit-{kind}-reset".encode(),
                    moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode(),
                ),
            ]
    return headers


def _left(limit: int, level: float) -> Left:
    remaining = max(math.floor(limit - level + 1e-9), 0)
    reset = level * WINDOW / limit if limit > 0 else 0.0
    return Left(limit, remaining, max(reset, 0.0))


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
