"""The rate-limit headers of an answer: what is left of the tightest limit that applies.

Admission already knows every level it just counted (the limits layer reports them with the
admission, :attr:`~bastion.limits.Admission.levels`, and a quota's reservation,
:attr:`~bastion.limits.Reservation.committed`), so the headers cost no extra round trip. Of all the
limits that apply (key, team, user, end user, plan), the one with the fewest requests (tokens) left
is reported; a tie goes to the one that takes longer to reset. The surface writes them its own way
(:meth:`~bastion.protocols.wire.WireFormat.rate_limit_headers`: OpenAI's ``x-ratelimit-*``,
Anthropic's ``anthropic-ratelimit-*``, none for the others).

A refusal by an rpm or tpm limit carries the headers of that limit (:func:`refusal_lefts`).

A rate limit of N per minute is a leaky bucket: it is back to N left once its level has drained, so
its reset is the level's drain time. A quota resets when its period renews.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bastion.gateway.surfaces import Surface
from bastion.limits import Admission, Refusal
from bastion.protocols.rate_limits import RateLeft

__all__ = ["RateLeft", "rate_headers", "rate_limit_lefts", "refusal_lefts"]

#: Seconds a per-minute limit takes to drain from full (the leaky bucket's window).
_WINDOW = 60.0


def rate_limit_lefts(admission: Admission | None) -> tuple[list[RateLeft], list[RateLeft]]:
    """The requests and tokens left under each rate limit of ``admission``."""
    requests: list[RateLeft] = []
    tokens: list[RateLeft] = []
    if admission is None:
        return requests, tokens
    for limit, (request_level, token_level) in zip(admission.limits, admission.levels, strict=False):
        if limit.rpm is not None and request_level is not None:
            requests.append(_left(limit.rpm, request_level))
        if limit.tpm is not None and token_level is not None:
            tokens.append(_left(limit.tpm, token_level))
    return requests, tokens


def refusal_lefts(refusal: Refusal) -> tuple[list[RateLeft], list[RateLeft]]:
    """What is left of the limit that refused a call (rpm: requests, tpm: tokens; none for a
    parallel limit): from the refusal itself, so a 429 costs no round trip more than an answer."""
    left = [_left(refusal.limit, float(refusal.used))]
    if refusal.kind == "rpm":
        return left, []
    if refusal.kind == "tpm":
        return [], left
    return [], []


def rate_headers(
    surface: Surface, requests: Sequence[RateLeft], tokens: Sequence[RateLeft], now: float
) -> list[tuple[bytes, bytes]]:
    """The headers of the tightest request and token limits, as ``surface`` writes them."""
    if not requests and not tokens:
        return []
    return surface.rate_limit_headers(_tightest(requests), _tightest(tokens), now)


def _tightest(lefts: Sequence[RateLeft]) -> RateLeft | None:
    return min(lefts, key=lambda left: (left.remaining, -left.reset)) if lefts else None


def _left(limit: int, level: float) -> RateLeft:
    remaining = max(math.floor(limit - level + 1e-9), 0)
    reset = level * _WINDOW / limit if limit > 0 else 0.0
    return RateLeft(limit, remaining, max(reset, 0.0))
