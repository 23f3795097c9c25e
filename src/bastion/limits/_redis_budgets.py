"""Budget reservations and spend in Redis, one script per operation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Any

from bastion.limits import _bucket
from bastion.limits._redis_store import Args, RedisLimitsStore
from bastion.limits._resets import ResetSchedule
from bastion.limits.reservation import (
    BudgetLimit,
    BudgetRefusal,
    BudgetSeed,
    BudgetState,
    Reservation,
    SpendLoader,
)

__all__ = ["RedisBudgets", "budget_refusal_from"]


class RedisBudgets:
    """:class:`~bastion.limits.backend.BudgetLedger` shared by every process using the same Redis."""

    def __init__(
        self,
        store: RedisLimitsStore,
        *,
        lease_ttl: float = 900.0,
        idle_ttl: float = 7 * 86400.0,
        timezone: tzinfo = UTC,
        loader: SpendLoader | None = None,
    ) -> None:
        self._store = store
        self._lease_ttl = lease_ttl
        self._idle_ms = int(idle_ttl * 1000)
        self._resets = ResetSchedule(timezone)
        self._loader = loader

    @property
    def loads_spend(self) -> bool:
        """Whether unknown scopes are read from the database (scripts then report them)."""
        return self._loader is not None

    async def reserve(self, budgets: Sequence[BudgetLimit], amount: float) -> Reservation | BudgetRefusal:
        reservation = Reservation.of(_bucket.new_id(), budgets, amount)
        if not reservation.budgets:
            return reservation
        strict = self.loads_spend
        while True:
            now = self._store.now_arg()
            keys, args = self.reserve_parts(reservation, now, strict=strict)
            reply = await self._store.run(RedisLimitsStore.RESERVE, keys, [now, *args])
            status = int(reply[0])
            if status == 1:
                reservation.committed = tuple(float(value) for value in reply[1:])
                return reservation
            if status == 0:
                return budget_refusal_from(reservation, reply)
            await self.load_missing(reservation, reply)
            strict = False  # a scope evicted again meanwhile counts from 0 rather than loop

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        if reservation.settled:
            return
        reservation.settled = True
        if not reservation.budgets:
            return
        now = self._store.now_arg()
        keys, args = self.settle_parts(reservation, actual_cost, now)
        await self._store.shielded(self._store.run(RedisLimitsStore.SETTLE, keys, [now, *args]))

    async def spent(self, scope: str) -> float:
        return (await self.state(scope)).spent

    async def state(self, scope: str) -> BudgetState:
        keys = [self._store.key("bud", scope), self._store.key("hold", scope)]
        reply = await self._store.run(RedisLimitsStore.PEEK, keys, [self._store.now_arg()])
        if int(reply[0]) == 0 and self._loader is not None:
            await self._load([scope])
            reply = await self._store.run(RedisLimitsStore.PEEK, keys, [self._store.now_arg()])
        _, spent, reserved, reset_at = reply
        return BudgetState(float(spent), float(reserved), float(reset_at) if reset_at else None)

    async def seed(
        self, scope: str, spent: float, *, reset_at: float | None = None, overwrite: bool = False
    ) -> bool:
        args = [repr(float(spent)), _opt(reset_at), "1" if overwrite else "0", self._idle_ms]
        return int(await self._store.run(RedisLimitsStore.SEED, [self._store.key("bud", scope)], args)) == 1

    def reserve_parts(self, reservation: Reservation, now: str, *, strict: bool) -> tuple[list[str], Args]:
        """KEYS and ARGV (after ``now``) of the budget check of ``_lua``."""
        args: Args = [
            reservation.token,
            repr(reservation.amount),
            repr(self._lease_ttl),
            self._idle_ms,
            "1" if strict else "0",
            len(reservation.budgets),
        ]
        for budget in reservation.budgets:
            args += (_opt(budget.max_budget), self._next_reset(budget, now))
        return self._keys(reservation.budgets), args

    def settle_parts(self, reservation: Reservation, actual_cost: float, now: str) -> tuple[list[str], Args]:
        """KEYS and ARGV (after ``now``) of a settlement."""
        args: Args = [
            reservation.token,
            repr(reservation.amount),
            repr(float(actual_cost)),
            self._idle_ms,
            "1" if self.loads_spend else "0",
            len(reservation.budgets),
        ]
        args += [self._next_reset(budget, now) for budget in reservation.budgets]
        return self._keys(reservation.budgets), args

    async def load_missing(self, reservation: Reservation, reply: Any) -> None:
        """Seed the scopes a script reported unknown (``{2, index...}``) from the database."""
        await self._load([reservation.budgets[int(index) - 1].scope for index in reply[1:]])

    async def _load(self, scopes: list[str]) -> None:
        assert self._loader is not None  # only strict scripts report missing scopes
        found = await self._loader(scopes)
        for scope in scopes:
            seed = found.get(scope) or BudgetSeed(0.0)
            await self.seed(scope, seed.spent, reset_at=seed.reset_at)

    def _keys(self, budgets: Sequence[BudgetLimit]) -> list[str]:
        keys: list[str] = []
        for budget in budgets:
            keys += (self._store.key("bud", budget.scope), self._store.key("hold", budget.scope))
        return keys

    def _next_reset(self, budget: BudgetLimit, now: str) -> str:
        if budget.duration is None:
            return ""
        # With the server's clock this host's clock only picks the next boundary; skew shifts a
        # reset by at most the skew.
        moment = float(now) if now else time.time()
        return repr(self._resets.next_after(budget.duration, moment))


def budget_refusal_from(reservation: Reservation, reply: Any) -> BudgetRefusal:
    """The :class:`BudgetRefusal` of a script's ``{status, index, spent, reserved, limit}`` reply."""
    _, index, spent, reserved, limit = reply
    scope = reservation.budgets[int(index) - 1].scope
    return BudgetRefusal(scope, float(spent), float(reserved), float(limit), reservation.amount)


def _opt(value: float | None) -> str:
    return "" if value is None else repr(float(value))
