"""Rate limits and budgets of one request in one Redis round trip each way (the way back shared
with the other requests finishing meanwhile: :mod:`bastion.limits._redis_finishes`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bastion.limits import _bucket
from bastion.limits._redis_budgets import RedisBudgets, budget_refusal_from
from bastion.limits._redis_finishes import FinishQueue
from bastion.limits._redis_rates import RedisRateLimiter, levels_from, refusal_from
from bastion.limits._redis_store import Args, RedisLimitsStore
from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import Ticket
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, Reservation

__all__ = ["RedisGate"]


class RedisGate:
    """:class:`~bastion.limits.backend.Gate`: the ``ADMIT`` and ``FINISH`` scripts."""

    def __init__(self, store: RedisLimitsStore, rates: RedisRateLimiter, budgets: RedisBudgets) -> None:
        self._store = store
        self._rates = rates
        self._budgets = budgets
        self._finishes = FinishQueue(store)

    async def admit(
        self, limits: Sequence[RateLimit], budgets: Sequence[BudgetLimit], *, tokens: int, amount: float
    ) -> Ticket | Refusal | BudgetRefusal:
        ticket_id = _bucket.new_id()
        admission = Admission.of(ticket_id, limits, tokens)
        reservation = Reservation.of(ticket_id, budgets, amount)
        if not admission.limits or not reservation.budgets:
            return await self._admit_one_kind(admission, reservation)
        strict = self._budgets.loads_spend
        while True:
            now = self._store.now_arg()
            rate_keys, rate_args = self._rates.acquire_parts(admission)
            budget_keys, budget_args = self._budgets.reserve_parts(reservation, now, strict=strict)
            args: Args = [now, len(rate_keys), len(rate_args), *rate_args, *budget_args]
            reply = await self._store.run(RedisLimitsStore.ADMIT, rate_keys + budget_keys, args)
            status = int(reply[0])
            if status == 1:
                admission.levels = levels_from(reply)
                return Ticket(admission, reservation)
            if status == 0:
                return refusal_from(admission, reply)
            if status == 3:
                return budget_refusal_from(reservation, reply)
            await self._budgets.load_missing(reservation, reply)
            strict = False

    async def finish(self, ticket: Ticket, *, actual_tokens: int, actual_cost: float) -> None:
        admission, reservation = ticket.admission, ticket.reservation
        now = self._store.now_arg()
        rate_keys: list[str] = []
        rate_args: Args = []
        budget_keys: list[str] = []
        budget_args: Args = []
        if not admission.released:
            admission.released = True
            rate_keys, rate_args = self._rates.release_parts(admission, actual_tokens)
        if not reservation.settled:
            reservation.settled = True
            if reservation.budgets:
                budget_keys, budget_args = self._budgets.settle_parts(reservation, actual_cost, now)
        if not rate_keys and not budget_keys:
            return
        # Sent with the other requests' finishes (_redis_finishes); shielded: a caller cancelled
        # while it waits (a client gone, a shutdown) still has its slot freed and its cost counted,
        # and the others sent with it still hear back.
        await asyncio.shield(self._finishes.add(rate_keys, rate_args, budget_keys, budget_args))

    async def _admit_one_kind(
        self, admission: Admission, reservation: Reservation
    ) -> Ticket | Refusal | BudgetRefusal:
        if admission.limits:
            outcome = await self._rates.acquire_many(admission.limits, tokens=admission.tokens)
            return outcome if isinstance(outcome, Refusal) else Ticket(outcome, reservation)
        held = await self._budgets.reserve(reservation.budgets, reservation.amount)
        return held if isinstance(held, BudgetRefusal) else Ticket(admission, held)
