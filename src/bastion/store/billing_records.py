"""The rows of the billing outbox: one event per billed spend record, and sums over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "EVENT_STATUSES",
    "BillingEventRecord",
    "BillingFilter",
    "BillingRound",
    "BillingTotals",
    "NewEvent",
]

#: ``pending`` (waiting for delivery or a retry), ``delivered`` (every sink confirmed),
#: ``parked`` (gave up; needs a person), ``cancelled`` (a person decided not to send it).
EVENT_STATUSES = ("pending", "delivered", "parked", "cancelled")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What the billing rules make of a billable spend record (the store adds the rest)."""

    idempotency_key: str
    team_id: str
    cost: float
    markup: float
    amount: float


@dataclass(frozen=True, slots=True)
class BillingEventRecord:
    """A billing event and where its delivery stands."""

    id: int
    idempotency_key: str
    request_id: str
    team_id: str
    occurred_at: datetime
    created_at: datetime
    status: str
    next_attempt_at: datetime
    updated_at: datetime
    cost: float = 0.0
    markup: float = 0.0
    amount: float = 0.0
    user: str | None = None
    end_user: str | None = None
    model_group: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    total_tokens: int = 0
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    delivered_sinks: tuple[str, ...] = field(default_factory=tuple)
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BillingFilter:
    """Which events: every given field must match; ``start`` inclusive, ``end`` exclusive."""

    team_id: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class BillingTotals:
    """Count and sums of one org's events in one status."""

    team_id: str
    status: str
    events: int
    cost: float
    amount: float


@dataclass(frozen=True, slots=True)
class BillingRound:
    """What one billing pass did: spend records seen, events written, records skipped by reason."""

    seen: int = 0
    billed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
