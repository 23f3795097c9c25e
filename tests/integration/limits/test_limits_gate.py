"""The gate: rate limits and budgets of a request admitted together, all or none, and finished once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import cast

import pytest
from limits_backends import Backend

from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import Limits, Ticket
from bastion.limits.errors import LimitsUnavailableError
from bastion.limits.redis import redis_limits
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, BudgetSeed, BudgetState, Reservation

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


def test_concurrent_finishes_across_processes_settle_every_request_once(backend: Backend) -> None:
    """Six hundred requests over two processes finishing at once (Redis sends them in batches,
    more than one script holds): every slot is freed, every token and every cost counted once,
    each under its own key and team."""

    async def main(limits: Limits) -> None:
        peer = backend.peer(limits)
        n = 600
        key, team = RateLimit("key:a", tpm=1_000_000, parallel=n), RateLimit("team:t", parallel=n)
        budgets = [BudgetLimit("key:a", 1000.0), BudgetLimit("team:t", 1000.0, "30d")]
        stores = [limits, peer] * (n // 2)
        tickets = await asyncio.gather(
            *(store.gate.admit([key, team], budgets, tokens=100, amount=1.0) for store in stores)
        )
        assert all(isinstance(ticket, Ticket) for ticket in tickets)
        finishes = [
            store.gate.finish(cast(Ticket, ticket), actual_tokens=i % 7, actual_cost=0.001 * (i % 5))
            for i, (store, ticket) in enumerate(zip(stores, tickets, strict=True))
        ]
        await asyncio.gather(*finishes)
        cost = sum(0.001 * (i % 5) for i in range(n))
        for scope in ("key:a", "team:t"):
            state = await peer.budgets.state(scope)
            assert state.spent == pytest.approx(cost) and state.reserved == 0.0
        # Every parallel slot free again (n fit, one more does not), and the tokens corrected.
        again = await asyncio.gather(
            *(store.gate.admit([key, team], [], tokens=0, amount=0.0) for store in stores)
        )
        assert all(isinstance(ticket, Ticket) for ticket in again)
        refusal = await limits.gate.admit([key, team], [], tokens=0, amount=0.0)
        assert isinstance(refusal, Refusal) and refusal.kind == "parallel"
        tokens = sum(i % 7 for i in range(n))
        over = await limits.gate.admit([key], [], tokens=1_000_000 - tokens + 1, amount=0.0)
        assert isinstance(over, Refusal) and over.kind in ("tpm", "parallel")

    backend.run(main)


@pytest.mark.redis
def test_a_finish_whose_caller_is_cancelled_still_settles(redis_backend: Backend) -> None:
    """A caller cancelled while its finish waits for Redis (a client gone, a shutdown): its slot is
    freed and its cost counted all the same, and the other finishes sent with it are not
    disturbed; closing the store waits for them."""

    async def main(limits: Limits) -> None:
        peer = redis_backend.peer(limits)
        tickets = [await _ticket(limits, tokens=10, amount=0.25) for _ in range(2)]
        waiting = [
            asyncio.ensure_future(limits.gate.finish(ticket, actual_tokens=10, actual_cost=0.125))
            for ticket in tickets
        ]
        await asyncio.sleep(0)  # both queued: one on its way and one after it, or both together
        waiting[0].cancel()
        assert await waiting[1] is None
        with pytest.raises(asyncio.CancelledError):
            await waiting[0]
        await limits.close()
        assert await peer.budgets.state("key:a") == BudgetState(0.25, 0.0, None)
        for _ in range(2):  # both slots free
            await _ticket(peer, tokens=10, amount=0.0)

    redis_backend.run(main)


def test_every_finish_of_a_failed_batch_is_told_so() -> None:
    """Finishes sent together to a Redis that cannot be reached each raise LimitsUnavailableError
    (the caller logs it; the holds expire with their lease): none waits forever, none is lost
    silently."""

    async def main() -> None:
        limits = redis_limits("redis://127.0.0.1:1/0", prefix="bastion:test-unreachable:")
        tickets = [
            Ticket(Admission.of(f"t{i}", [KEY_RATE], 10), Reservation.of(f"t{i}", [KEY_BUDGET], 0.25))
            for i in range(300)
        ]
        try:
            outcomes = await asyncio.gather(
                *(limits.gate.finish(t, actual_tokens=1, actual_cost=0.1) for t in tickets),
                return_exceptions=True,
            )
            assert all(isinstance(outcome, LimitsUnavailableError) for outcome in outcomes), outcomes[:3]
        finally:
            await limits.close()

    asyncio.run(main())
