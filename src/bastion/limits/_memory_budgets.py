"""Budget reservations and spend in a dict, for one gateway process."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from bastion.limits import _bucket
from bastion.limits._resets import ResetSchedule
from bastion.limits.reservation import (
    BudgetLimit,
    BudgetRefusal,
    BudgetSeed,
    BudgetState,
    Reservation,
    SpendLoader,
)

__all__ = ["MemoryBudgets"]


@dataclass(slots=True)
class Account:
    spent: float = 0.0
    reserved: float = 0.0
    reset_at: float | None = None
    holds: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (amount, expiry)


class MemoryBudgets:
    """:class:`~bastion.limits.backend.BudgetLedger` in a dict.

    Reservations expire after ``lease_ttl`` like Redis ones, so a bug that never settles cannot
    hold budget for the life of the process.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        lease_ttl: float = 900.0,
        timezone: tzinfo = UTC,
        loader: SpendLoader | None = None,
    ) -> None:
        self.clock = clock or time.time
        self._lease_ttl = lease_ttl
        self._resets = ResetSchedule(timezone)
        self._loader = loader
        self._accounts: dict[str, Account] = {}

    async def reserve(self, budgets: Sequence[BudgetLimit], amount: float) -> Reservation | BudgetRefusal:
        reservation = Reservation.of(_bucket.new_id(), budgets, amount)
        if not reservation.budgets:
            return reservation
        await self.load_missing(reservation)
        now = self.clock()
        accounts = self.check(reservation, now)
        if isinstance(accounts, BudgetRefusal):
            return accounts
        self.commit(reservation, accounts, now)
        return reservation

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        self.settle_now(reservation, actual_cost)

    def settle_now(self, reservation: Reservation, actual_cost: float) -> None:
        """:meth:`settle`, which waits for nothing here, as a plain call."""
        if reservation.settled:
            return
        reservation.settled = True
        now = self.clock()
        for budget in reservation.budgets:
            account = self._current(budget, now)
            hold = account.holds.pop(reservation.id, None)
            if hold is not None:
                account.reserved = max(account.reserved - hold[0], 0.0) if account.holds else 0.0
            account.spent += actual_cost

    async def spent(self, scope: str) -> float:
        return (await self.state(scope)).spent

    async def state(self, scope: str) -> BudgetState:
        await self._load([scope])
        account = self._accounts.get(scope)
        if account is None:
            return BudgetState(0.0, 0.0, None)
        now = self.clock()
        spent = 0.0 if account.reset_at is not None and now >= account.reset_at else account.spent
        reserved = sum(amount for amount, expiry in account.holds.values() if expiry > now)
        return BudgetState(spent, reserved, account.reset_at)

    async def seed(
        self, scope: str, spent: float, *, reset_at: float | None = None, overwrite: bool = False
    ) -> bool:
        account = self._accounts.get(scope)
        if account is not None and not overwrite:
            return False
        account = self._accounts.setdefault(scope, Account())
        account.spent, account.reset_at = spent, reset_at
        return True

    async def load_missing(self, reservation: Reservation) -> None:
        """Read the spend of scopes this process has not seen yet (before a check)."""
        await self._load([budget.scope for budget in reservation.budgets])

    def check(self, reservation: Reservation, now: float) -> list[Account] | BudgetRefusal:
        """The first budget that cannot cover the amount, or the accounts to commit to.

        Rolls windows over and gives back expired holds, which a refusal need not undo.
        """
        accounts: list[Account] = []
        amount = reservation.amount
        for budget in reservation.budgets:
            account = self._current(budget, now)
            limit = budget.max_budget
            committed = account.spent + account.reserved
            if limit is not None and (committed >= limit or committed + amount > limit + _bucket.EPSILON):
                return BudgetRefusal(budget.scope, account.spent, account.reserved, limit, amount)
            accounts.append(account)
        return accounts

    def commit(self, reservation: Reservation, accounts: list[Account], now: float) -> None:
        for account in accounts:
            account.holds[reservation.id] = (reservation.amount, now + self._lease_ttl)
            account.reserved += reservation.amount
        reservation.committed = tuple(account.spent + account.reserved for account in accounts)

    async def _load(self, scopes: Sequence[str]) -> None:
        missing = [scope for scope in scopes if scope not in self._accounts]
        if not missing or self._loader is None:
            return
        found = await self._loader(missing)
        for scope in missing:
            seed = found.get(scope) or BudgetSeed(0.0)
            await self.seed(scope, seed.spent, reset_at=seed.reset_at)

    def _current(self, budget: BudgetLimit, now: float) -> Account:
        """The scope's account with its window rolled over and expired reservations given back."""
        account = self._accounts.setdefault(budget.scope, Account())
        if budget.duration is None:
            account.reset_at = None
        elif account.reset_at is None:
            account.reset_at = self._resets.next_after(budget.duration, now)
        elif now >= account.reset_at:
            account.spent = 0.0
            account.reset_at = self._resets.next_after(budget.duration, now)
        expired = [hold_id for hold_id, (_, expiry) in account.holds.items() if expiry <= now]
        for hold_id in expired:
            account.reserved -= account.holds.pop(hold_id)[0]
        if not account.holds or account.reserved < 0:
            account.reserved = 0.0  # float sums drift; no hold left means nothing is reserved
        return account
