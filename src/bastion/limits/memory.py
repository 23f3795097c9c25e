"""In-process limits for a single gateway process: the embedded default (no Redis).

Every operation runs without an ``await`` between its check and its write, so it is atomic on
the event loop. The semantics match :mod:`bastion.limits.redis` exactly (one shared test suite),
leases and reservation expiry included, so a bug that skips a release cannot hold a slot forever
here either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, tzinfo

from bastion.limits import _bucket
from bastion.limits._listeners import notify
from bastion.limits._memory_budgets import MemoryBudgets
from bastion.limits._memory_rates import MemoryRateLimiter
from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import Limits, RevocationListener, Ticket
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, Reservation, SpendLoader

__all__ = ["MemoryBudgets", "MemoryGate", "MemoryRateLimiter", "MemoryRevocations", "memory_limits"]


class MemoryGate:
    """:class:`~bastion.limits.backend.Gate` over the memory rate limiter and budgets."""

    def __init__(self, rates: MemoryRateLimiter, budgets: MemoryBudgets) -> None:
        self._rates = rates
        self._budgets = budgets

    async def admit(
        self, limits: Sequence[RateLimit], budgets: Sequence[BudgetLimit], *, tokens: int, amount: float
    ) -> Ticket | Refusal | BudgetRefusal:
        ticket_id = _bucket.new_id()
        admission = Admission.of(ticket_id, limits, tokens)
        reservation = Reservation.of(ticket_id, budgets, amount)
        await self._budgets.load_missing(reservation)
        now = self._rates.clock()
        plan = self._rates.check(admission, now)
        if isinstance(plan, Refusal):
            return plan
        accounts = self._budgets.check(reservation, now)
        if isinstance(accounts, BudgetRefusal):
            return accounts
        if admission.limits:
            self._rates.commit(admission, plan, now)
        self._budgets.commit(reservation, accounts, now)
        return Ticket(admission, reservation)

    async def finish(self, ticket: Ticket, *, actual_tokens: int, actual_cost: float) -> None:
        self.finish_now(ticket, actual_tokens=actual_tokens, actual_cost=actual_cost)

    def finish_now(self, ticket: Ticket, *, actual_tokens: int, actual_cost: float) -> None:
        """:meth:`finish` as a plain call: in this process's dicts it waits for nothing, so a
        request's settlement needs no task of its own (see ``Gatekeeper.finish``)."""
        self._rates.release_now(ticket.admission, actual_tokens=actual_tokens)
        self._budgets.settle_now(ticket.reservation, actual_cost)


class MemoryRevocations:
    """:class:`~bastion.limits.backend.RevocationList` in a dict; listeners are called in-line."""

    def __init__(self, *, clock: Callable[[], float] | None = None, ttl: float = 86400.0) -> None:
        self._clock = clock or time.time
        self._ttl = ttl
        self._revoked: dict[str, float] = {}
        self._listeners: list[RevocationListener] = []

    async def revoke(self, key_hash: str) -> None:
        self._revoked[key_hash] = self._clock() + self._ttl
        notify(self._listeners, key_hash)

    async def unrevoke(self, key_hash: str) -> None:
        self._revoked.pop(key_hash, None)
        notify(self._listeners, key_hash)

    async def is_revoked(self, key_hash: str) -> bool:
        expiry = self._revoked.get(key_hash)
        if expiry is None:
            return False
        if expiry <= self._clock():
            del self._revoked[key_hash]
            return False
        return True

    async def subscribe(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)


def memory_limits(
    *,
    clock: Callable[[], float] | None = None,
    lease_ttl: float = 900.0,
    revocation_ttl: float = 86400.0,
    timezone: tzinfo = UTC,
    loader: SpendLoader | None = None,
) -> Limits:
    """The in-process limits of one gateway process.

    ``lease_ttl`` bounds how long a parallel slot or a budget reservation outlives a request that
    never released it; ``loader`` reads the database's spend of a scope seen for the first time.
    """

    async def close() -> None:
        return None

    rates = MemoryRateLimiter(clock=clock, lease_ttl=lease_ttl)
    budgets = MemoryBudgets(clock=clock, lease_ttl=lease_ttl, timezone=timezone, loader=loader)
    return Limits(
        rates=rates,
        budgets=budgets,
        revocations=MemoryRevocations(clock=clock, ttl=revocation_ttl),
        gate=MemoryGate(rates, budgets),
        closer=close,
    )
