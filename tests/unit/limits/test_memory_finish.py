"""Settling a request on the in-process limits as a plain call: the same effect as the awaited
``finish`` (the parallel slot is free again, the tokens and the real cost are counted), once only."""

from __future__ import annotations

import asyncio

from bastion.limits import BudgetLimit, RateLimit, Ticket
from bastion.limits.memory import memory_limits


def test_finish_now_frees_the_slot_and_counts_the_real_cost_once() -> None:
    async def main() -> None:
        limits = memory_limits(clock=lambda: 1000.0)
        gate = limits.gate
        rates = [RateLimit("key:a", None, 1000, 1)]
        budgets = [BudgetLimit("key:a", 10.0, None)]
        ticket = await gate.admit(rates, budgets, tokens=100, amount=2.0)
        assert isinstance(ticket, Ticket)
        # The one parallel slot is held: a second call is refused until the first is settled.
        assert not isinstance(await gate.admit(rates, budgets, tokens=100, amount=2.0), Ticket)
        gate.finish_now(ticket, actual_tokens=30, actual_cost=0.25)  # type: ignore[attr-defined]
        gate.finish_now(ticket, actual_tokens=30, actual_cost=0.25)  # type: ignore[attr-defined]
        state = await limits.budgets.state("key:a")
        assert state.spent == 0.25 and state.reserved == 0.0
        again = await gate.admit(rates, budgets, tokens=100, amount=2.0)
        assert isinstance(again, Ticket)
        await gate.finish(again, actual_tokens=30, actual_cost=0.25)
        assert (await limits.budgets.state("key:a")).spent == 0.5

    asyncio.run(main())
