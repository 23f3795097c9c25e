"""Rate limits, parallel-request slots, budget reservations and key revocations.

Small stores behind protocols (:mod:`bastion.limits.backend`), each with an in-process
implementation (:func:`bastion.limits.memory.memory_limits`) and a Redis one shared by every
gateway process (:func:`bastion.limits.redis.redis_limits`, imported from its module so the
embedded default never loads the Redis client).
"""

from __future__ import annotations

from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import (
    BudgetLedger,
    Gate,
    Limits,
    RateLimiter,
    RevocationList,
    RevocationListener,
    Ticket,
)
from bastion.limits.durations import Duration, DurationError, expires_at, next_reset, parse_duration
from bastion.limits.errors import BudgetExceededError, LimitsUnavailableError
from bastion.limits.estimate import estimate_cost, estimate_tokens
from bastion.limits.memory import memory_limits
from bastion.limits.reservation import (
    BudgetLimit,
    BudgetRefusal,
    BudgetSeed,
    BudgetState,
    Reservation,
    SpendLoader,
)

__all__ = [
    "Admission",
    "BudgetExceededError",
    "BudgetLedger",
    "BudgetLimit",
    "BudgetRefusal",
    "BudgetSeed",
    "BudgetState",
    "Duration",
    "DurationError",
    "Gate",
    "Limits",
    "LimitsUnavailableError",
    "RateLimit",
    "RateLimiter",
    "Refusal",
    "Reservation",
    "RevocationList",
    "RevocationListener",
    "SpendLoader",
    "Ticket",
    "estimate_cost",
    "estimate_tokens",
    "expires_at",
    "memory_limits",
    "next_reset",
    "parse_duration",
]
