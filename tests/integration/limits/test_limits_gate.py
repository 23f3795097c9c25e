"""The gate: rate limits and budgets of a request admitted together, all or none, and finished once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from limits_backends import Backend

from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import Limits, Ticket
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, BudgetSeed, BudgetState

KEY_RATE = RateLimit("key:a", rpm=10, tpm=1000, parallel=2)
KEY_BUDGET = BudgetLimit("key:a", 1.0)


async def _ticket(limits: Limits, *, tokens: int = 100, amount: float = 0.25) -> Ticket:
    outcome = await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=tokens, amount=amount)
    assert isinstance(outcome, Ticket), outcome
    return outcome


def test_admit_counts_rates_and_holds_budget(backend: Backend) -> None:
    """An admitted request takes an rpm unit, its tokens, a parallel slot and its estimate."""

    async def main(limits: Limits) -> None:
        await _ticket(limits, tokens=600)
        await _ticket(limits, tokens=300)
        refusal = await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=1, amount=0.25)
        assert isinstance(refusal, Refusal) and (refusal.kind, refusal.used) == ("parallel", 2)
        assert await limits.budgets.state("key:a") == BudgetState(0.0, 0.5, None)

    backend.run(main)


def test_budget_refusal_counts_no_rate(backend: Backend) -> None:
    """A request its budget refuses takes no rpm unit and no slot."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", rpm=1, parallel=1)
        refusal = await limits.gate.admit([limit], [KEY_BUDGET], tokens=0, amount=2.0)
        assert isinstance(refusal, BudgetRefusal) and refusal.limit == 1.0
        assert isinstance(await limits.rates.acquire_many([limit], tokens=0), Admission)

    backend.run(main)


def test_rate_refusal_holds_no_budget(backend: Backend) -> None:
    """A request a rate limit refuses reserves nothing, even when its budget would also refuse."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", rpm=1)
        await limits.gate.admit([limit], [KEY_BUDGET], tokens=0, amount=0.25)
        refusal = await limits.gate.admit([limit], [KEY_BUDGET], tokens=0, amount=0.5)
        assert isinstance(refusal, Refusal) and refusal.kind == "rpm"
        assert (await limits.budgets.state("key:a")).reserved == 0.25
        refusal = await limits.gate.admit([limit], [KEY_BUDGET], tokens=0, amount=5.0)
        assert isinstance(refusal, Refusal)

    backend.run(main)


def test_finish_releases_and_settles_exactly_once(backend: Backend) -> None:
    """Finishing frees the slot, corrects tpm, bills the cost; finishing again changes nothing."""

    async def main(limits: Limits) -> None:
        first = await _ticket(limits, tokens=900)
        await asyncio.gather(
            *(limits.gate.finish(first, actual_tokens=100, actual_cost=0.125) for _ in range(3))
        )
        await limits.gate.finish(first, actual_tokens=0, actual_cost=1.0)
        assert await limits.budgets.state("key:a") == BudgetState(0.125, 0.0, None)
        second = await _ticket(limits, tokens=800)  # 100 + 800 tokens fit: the correction applied
        third = await _ticket(limits, tokens=100)  # and both slots are free again
        for ticket in (second, third):
            await limits.gate.finish(ticket, actual_tokens=ticket.admission.tokens, actual_cost=0.0)
        refusal = await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=1, amount=0.0)
        assert isinstance(refusal, Refusal) and (refusal.kind, refusal.used) == ("tpm", 1000)  # once only

    backend.run(main)


def test_finish_after_a_separate_release_only_settles(backend: Backend) -> None:
    """A ticket whose admission was already released is settled without a second release."""

    async def main(limits: Limits) -> None:
        ticket = await _ticket(limits, tokens=500)
        await limits.rates.release(ticket.admission, actual_tokens=500)
        await _ticket(limits, tokens=500)
        await limits.gate.finish(ticket, actual_tokens=0, actual_cost=0.25)
        assert (await limits.budgets.state("key:a")).spent == 0.25
        refusal = await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=1, amount=0.0)
        assert isinstance(refusal, Refusal) and (refusal.kind, refusal.used) == ("tpm", 1000)

    backend.run(main)


def test_one_kind_only_and_nothing(backend: Backend) -> None:
    """Rates alone, budgets alone and neither (the master key) go through the same gate."""

    async def main(limits: Limits) -> None:
        rates_only = await limits.gate.admit([RateLimit("key:a", rpm=1)], [], tokens=0, amount=1.0)
        assert isinstance(rates_only, Ticket)
        assert isinstance(
            await limits.gate.admit([RateLimit("key:a", rpm=1)], [], tokens=0, amount=0), Refusal
        )
        budget_only = await limits.gate.admit([], [KEY_BUDGET], tokens=0, amount=1.0)
        assert isinstance(budget_only, Ticket)
        assert isinstance(await limits.gate.admit([], [KEY_BUDGET], tokens=0, amount=0.5), BudgetRefusal)
        free = await limits.gate.admit([RateLimit("key:master")], [], tokens=10, amount=1.0)
        assert isinstance(free, Ticket)
        for ticket in (rates_only, budget_only, free):
            await limits.gate.finish(ticket, actual_tokens=0, actual_cost=0.25)
        assert (await limits.budgets.state("key:a")).spent == 0.25

    backend.run(main)


def test_concurrent_admissions_across_processes_bind_on_the_tighter_limit(backend: Backend) -> None:
    """Fifty requests over two processes: the budget admits 20; the 30 it refused took no rpm."""

    async def main(limits: Limits) -> None:
        peer = backend.peer(limits)
        rate, budget = RateLimit("key:a", rpm=30), BudgetLimit("key:a", 5.0)
        stores = [limits, peer] * 25
        outcomes = await asyncio.gather(
            *(store.gate.admit([rate], [budget], tokens=0, amount=0.25) for store in stores)
        )
        assert sum(isinstance(outcome, Ticket) for outcome in outcomes) == 20
        assert sum(isinstance(outcome, BudgetRefusal) for outcome in outcomes) == 30
        for _ in range(10):
            assert isinstance(await peer.rates.acquire_many([rate], tokens=0), Admission)
        assert isinstance(await limits.rates.acquire_many([rate], tokens=0), Refusal)

    backend.run(main)


def test_gate_loads_unknown_budgets_once(backend: Backend) -> None:
    """Scopes the store does not know are read from the database before the first admission."""
    calls: list[list[str]] = []

    async def loader(scopes: Sequence[str]) -> Mapping[str, BudgetSeed]:
        calls.append(sorted(scopes))
        return {"key:a": BudgetSeed(0.875)}

    async def main(limits: Limits) -> None:
        refusal = await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=1, amount=0.25)
        assert isinstance(refusal, BudgetRefusal) and refusal.spent == 0.875
        assert isinstance(await limits.gate.admit([KEY_RATE], [KEY_BUDGET], tokens=1, amount=0.125), Ticket)
        assert calls == [["key:a"]]

    backend.run(main, loader=loader)


def test_a_scope_named_twice_counts_once(backend: Backend) -> None:
    """A request whose user and end user are the same scope is counted and charged once."""

    async def main(limits: Limits) -> None:
        rate, budget = RateLimit("user:u", rpm=2), BudgetLimit("user:u", 1.0)
        ticket = await limits.gate.admit([rate, rate], [budget, budget], tokens=0, amount=0.5)
        assert (
            isinstance(ticket, Ticket)
            and len(ticket.admission.limits) == len(ticket.reservation.budgets) == 1
        )
        assert (await limits.budgets.state("user:u")).reserved == 0.5
        await limits.gate.finish(ticket, actual_tokens=0, actual_cost=0.5)
        assert await limits.budgets.spent("user:u") == 0.5
        assert isinstance(await limits.rates.acquire_many([rate, rate], tokens=0), Admission)
        assert isinstance(await limits.rates.acquire_many([rate], tokens=0), Refusal)

    backend.run(main)


def test_admissions_report_the_levels_their_answer_headers_show(backend: Backend) -> None:
    """Admitting reports each limit's rpm and tpm levels after it (no extra read), through the gate,
    the rate limiter alone, and a budget reservation (spend plus holds after it)."""

    async def main(limits: Limits) -> None:
        first = await _ticket(limits, tokens=100)
        second = await _ticket(limits, tokens=50)
        ((requests, tokens),) = second.admission.levels
        assert first.admission.levels[0][0] == pytest.approx(1.0, abs=0.01)
        assert requests == pytest.approx(2.0, abs=0.01) and tokens == pytest.approx(150.0, abs=1.0)
        only_rpm = await limits.rates.acquire_many([RateLimit("key:b", rpm=5)], tokens=10)
        assert isinstance(only_rpm, Admission)
        assert only_rpm.levels[0][0] == pytest.approx(1.0, abs=0.01) and only_rpm.levels[0][1] is None
        held = await limits.budgets.reserve([BudgetLimit("quota:end_user:x", 100.0)], 30.0)
        again = await limits.budgets.reserve([BudgetLimit("quota:end_user:x", 100.0)], 20.0)
        assert not isinstance(held, BudgetRefusal) and not isinstance(again, BudgetRefusal)
        assert held.committed == (30.0,) and again.committed == (50.0,)

    backend.run(main)
