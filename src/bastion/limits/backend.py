"""The stores of the limits layer, as small protocols, and the bundle a gateway holds.

Rate limits, budgets and revocations are one protocol each; the :class:`Gate` runs the first two
together for the request path (one Redis round trip in, one out). Each protocol has an in-process
implementation (:mod:`bastion.limits.memory`, one gateway process) and a Redis one
(:mod:`bastion.limits.redis`, shared by every process). Both pass the same test suite; every
operation is atomic (one Lua script per operation in Redis).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, BudgetState, Reservation

__all__ = [
    "BudgetLedger",
    "Gate",
    "Limits",
    "RateLimiter",
    "RevocationList",
    "RevocationListener",
    "Ticket",
]

#: Called with a revoked (or restored) key hash, or with ``None`` when notices may have been lost
#: (the subscription dropped): then no cached key may be trusted as it is (the key cache reads each
#: again, and during a database outage serves one only once its revocation marker is checked).
RevocationListener = Callable[[str | None], None]


class RateLimiter(Protocol):
    """Requests and tokens per minute (GCRA, a leaky bucket per scope) and parallel slots (leases)."""

    async def acquire(
        self, scope: str, *, rpm: int | None, tpm: int | None, parallel: int | None, tokens: int
    ) -> Admission | Refusal:
        """Admit one request against one scope (see :meth:`acquire_many`)."""
        ...

    async def acquire_many(self, limits: Sequence[RateLimit], *, tokens: int) -> Admission | Refusal:
        """Admit and count one request against every scope, or against none.

        ``tokens`` (the prompt estimate plus the output reservation) is counted against tpm. A
        refused request counts nothing. The refusal reported is the one with the longest wait.
        """
        ...

    async def release(self, admission: Admission, *, actual_tokens: int) -> None:
        """Free the parallel slots and replace the tpm estimate by ``actual_tokens``; once only."""
        ...

    async def renew(self, admission: Admission) -> bool:
        """Extend the parallel leases of a long call; ``False`` if a lease had already expired."""
        ...


class BudgetLedger(Protocol):
    """Spend per scope, with reservations for requests in flight and windows that reset."""

    async def reserve(self, budgets: Sequence[BudgetLimit], amount: float) -> Reservation | BudgetRefusal:
        """Hold ``amount`` USD against every budget, or against none."""
        ...

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Replace the reservation by the real cost (0 when nothing was spent); once only."""
        ...

    async def spent(self, scope: str) -> float:
        """The scope's spend in its current window."""
        ...

    async def state(self, scope: str) -> BudgetState:
        """Spend, reservations in flight and the next reset of a scope."""
        ...

    async def seed(
        self, scope: str, spent: float, *, reset_at: float | None = None, overwrite: bool = False
    ) -> bool:
        """Load a scope's spend from the database; only if unknown unless ``overwrite``.

        Returns whether the value was written.
        """
        ...


class RevocationList(Protocol):
    """Keys deleted or blocked, seen by every process within a second."""

    async def revoke(self, key_hash: str) -> None:
        """Mark a key revoked and tell every subscribed process to drop it from its cache."""
        ...

    async def unrevoke(self, key_hash: str) -> None:
        """Lift a revocation (an unblocked key) and tell every process to reload the key."""
        ...

    async def is_revoked(self, key_hash: str) -> bool: ...

    async def subscribe(self, listener: RevocationListener) -> None:
        """Call ``listener`` for every revocation from any process, from when this returns."""
        ...


@dataclass(slots=True, eq=False)
class Ticket:
    """A request admitted by :meth:`Gate.admit`: its rate-limit admission and budget reservation."""

    admission: Admission
    reservation: Reservation


class Gate(Protocol):
    """The request path's admission: rate limits and budgets in one atomic step (one Redis round trip).

    Same rules as :meth:`RateLimiter.acquire_many` followed by :meth:`BudgetLedger.reserve`, but
    all or none across both: a request refused by a budget counts nothing against rpm, and one
    refused by a rate limit holds no budget.
    """

    async def admit(
        self, limits: Sequence[RateLimit], budgets: Sequence[BudgetLimit], *, tokens: int, amount: float
    ) -> Ticket | Refusal | BudgetRefusal: ...

    async def finish(self, ticket: Ticket, *, actual_tokens: int, actual_cost: float) -> None:
        """Release and settle in one step; once only (safe after a separate release or settle)."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits stores of one gateway process; ``close()`` waits for releases still running."""

    rates: RateLimiter
    budgets: BudgetLedger
    revocations: RevocationList
    gate: Gate
    closer: Callable[[], Awaitable[None]]

    async def close(self) -> None:
        await self.closer()
