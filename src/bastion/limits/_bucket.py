"""The rate arithmetic both backends share (the Redis scripts repeat it in Lua, line for line).

A limit of L per minute is a leaky bucket (GCRA): a level that drains at L/60 per second. A
request of cost c passes when the level after it stays within L, so N requests pass at once and the
next one waits 60/N seconds. Storing the level (not a theoretical arrival time) keeps a scope's
usage meaningful when its limit is changed.
"""

from __future__ import annotations

import math
import os

__all__ = ["EPSILON", "WINDOW", "drain", "new_id", "refusal_wait", "used"]

WINDOW = 60.0
EPSILON = 1e-9


def drain(level: float, since: float, now: float, limit: int) -> float:
    """The level left at ``now`` of one that was ``level`` at ``since``."""
    if limit <= 0:
        return level
    return max(level - max(now - since, 0.0) * limit / WINDOW, 0.0)


def refusal_wait(level: float, cost: int, limit: int) -> float | None:
    """``None`` if a request of ``cost`` passes, else seconds until it would (``inf``: never).

    A cost larger than the whole limit passes when the bucket is empty, so one big prompt is not
    refused forever.
    """
    if limit <= 0:
        return math.inf
    target = max(limit - cost, 0)
    if level <= target + EPSILON:
        return None
    return (level - target) * WINDOW / limit


def used(level: float) -> int:
    """Whole units in the bucket, for a refusal message."""
    return max(math.ceil(level - 1e-6), 0)


def new_id() -> str:
    """A unique id for an admission or a reservation (a lease member in Redis)."""
    return os.urandom(9).hex()
