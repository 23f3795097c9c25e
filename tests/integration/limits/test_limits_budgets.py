"""Budgets: reservations that hold under concurrency, settled once, windows that reset, seeding."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from limits_backends import Backend

from bastion.limits.backend import Limits
from bastion.limits.errors import BudgetExceededError
from bastion.limits.reservation import BudgetLimit, BudgetRefusal, BudgetSeed, BudgetState, Reservation


async def _hold(limits: Limits, amount: float, *budgets: BudgetLimit) -> Reservation:
    outcome = await limits.budgets.reserve(list(budgets), amount)
    assert isinstance(outcome, Reservation), outcome
    return outcome


async def _refuse(limits: Limits, amount: float, *budgets: BudgetLimit) -> BudgetRefusal:
    outcome = await limits.budgets.reserve(list(budgets), amount)
    assert isinstance(outcome, BudgetRefusal), outcome
    return outcome


KEY = BudgetLimit("key:a", 1.0)


def test_reserve_within_budget_and_refuse_beyond(backend: Backend) -> None:
    """Reservations count like spend: the one that would pass the budget is refused, with the numbers."""

    async def main(limits: Limits) -> None:
        await _hold(limits, 0.5, KEY)
        await _hold(limits, 0.5, KEY)
        assert await _refuse(limits, 0.25, KEY) == BudgetRefusal("key:a", 0.0, 1.0, 1.0, 0.25)

    backend.run(main)


def test_settle_replaces_the_reservation_by_the_cost(backend: Backend) -> None:
    """Settling frees the held amount and adds what the call really cost."""

    async def main(limits: Limits) -> None:
        reservation = await _hold(limits, 0.5, KEY)
        await limits.budgets.settle(reservation, 0.125)
        state = await limits.budgets.state("key:a")
        assert (state.spent, state.reserved) == (0.125, 0.0)
        assert await limits.budgets.spent("key:a") == 0.125

    backend.run(main)


def test_settle_exactly_once(backend: Backend) -> None:
    """A second settle, even a concurrent one, changes nothing."""

    async def main(limits: Limits) -> None:
        reservation = await _hold(limits, 0.5, KEY)
        other = await _hold(limits, 0.25, KEY)
        await asyncio.gather(*(limits.budgets.settle(reservation, 0.125) for _ in range(3)))
        await limits.budgets.settle(reservation, 0.5)
        assert reservation.settled
        assert await limits.budgets.state("key:a") == BudgetState(0.125, 0.25, None)
        await limits.budgets.settle(other, 0.0)
        assert await limits.budgets.state("key:a") == BudgetState(0.125, 0.0, None)

    backend.run(main)


@pytest.mark.parametrize(("actual", "spent"), [(0.25, 5.0), (0.375, 7.5), (0.0, 0.0)])
def test_fifty_concurrent_requests_overspend_only_by_what_is_in_flight(
    backend: Backend, actual: float, spent: float
) -> None:
    """50 concurrent requests over two processes: exactly budget/estimate pass, and the final spend
    exceeds the budget by exactly what the admitted calls cost above their estimates."""

    async def main(limits: Limits) -> None:
        budget = BudgetLimit("key:a", 5.0)
        peer = backend.peer(limits)
        stores = [limits, peer] * 25
        outcomes = await asyncio.gather(*(store.budgets.reserve([budget], 0.25) for store in stores))
        admitted = [
            (store, o) for store, o in zip(stores, outcomes, strict=True) if isinstance(o, Reservation)
        ]
        assert len(admitted) == 20
        state = await limits.budgets.state("key:a")
        assert (state.spent, state.reserved) == (0.0, 5.0)
        await asyncio.gather(*(store.budgets.settle(reservation, actual) for store, reservation in admitted))
        assert await peer.budgets.state("key:a") == BudgetState(spent, 0.0, None)
        assert spent - 5.0 <= len(admitted) * max(actual - 0.25, 0.0)

    backend.run(main)


def test_interleaved_requests_never_exceed_the_budget(backend: Backend) -> None:
    """With costs within their estimates, spend plus holds never pass the budget at any point."""

    async def main(limits: Limits) -> None:
        budget = BudgetLimit("key:a", 2.0)
        peer = backend.peer(limits)
        admitted = 0

        async def request(store: Limits, index: int) -> None:
            nonlocal admitted
            outcome = await store.budgets.reserve([budget], 0.25)
            if isinstance(outcome, Reservation):
                admitted += 1
                for _ in range(index % 3):
                    await asyncio.sleep(0)  # finish in a scrambled order
                state = await store.budgets.state("key:a")
                assert state.spent + state.reserved <= 2.0
                await store.budgets.settle(outcome, 0.125)

        await asyncio.gather(*(request(store, i) for i, store in enumerate([limits, peer] * 25)))
        state = await limits.budgets.state("key:a")
        assert state.reserved == 0.0 and state.spent == admitted * 0.125 <= 2.0
        assert admitted >= 8

    backend.run(main)


def test_reserve_is_all_or_none(backend: Backend) -> None:
    """A request the team cannot afford holds nothing on the key either."""

    async def main(limits: Limits) -> None:
        key, team = BudgetLimit("key:a", 10.0), BudgetLimit("team:t", 1.0)
        await _hold(limits, 0.75, key, team)
        refusal = await _refuse(limits, 0.75, key, team)
        assert (refusal.scope, refusal.spent, refusal.reserved, refusal.limit) == ("team:t", 0.0, 0.75, 1.0)
        assert (await limits.budgets.state("key:a")).reserved == 0.75

    backend.run(main)


def test_spent_budget_refuses_even_free_requests(backend: Backend) -> None:
    """Once spend reaches the budget, a request estimated at 0 (unpriced model) is refused too."""

    async def main(limits: Limits) -> None:
        assert await limits.budgets.seed("key:a", 1.0)
        refusal = await _refuse(limits, 0.0, KEY)
        assert (refusal.spent, refusal.limit) == (1.0, 1.0)

    backend.run(main)


def test_untracked_budget_never_refuses_but_counts(backend: Backend) -> None:
    """A scope without max_budget admits anything and still adds up its spend."""

    async def main(limits: Limits) -> None:
        for _ in range(3):
            await limits.budgets.settle(await _hold(limits, 100.0, BudgetLimit("user:u", None)), 40.0)
        assert await limits.budgets.spent("user:u") == 120.0

    backend.run(main)


def test_budget_window_resets(backend: Backend) -> None:
    """After the reset time the spend starts again at 0 and the next reset moves one window on."""

    async def main(limits: Limits) -> None:
        windowed = BudgetLimit("key:a", 1.0, "30s")
        await limits.budgets.settle(await _hold(limits, 1.0, windowed), 0.75)
        await _refuse(limits, 0.5, windowed)
        reset_at = (await limits.budgets.state("key:a")).reset_at
        assert reset_at is not None and 0 < reset_at - backend.clock.now <= 30
        backend.clock.now = reset_at
        await limits.budgets.settle(await _hold(limits, 0.5, windowed), 0.5)
        state = await limits.budgets.state("key:a")
        assert state == BudgetState(0.5, 0.0, reset_at + 30)

    backend.run(main)


def test_daily_window_resets_at_midnight_in_the_configured_zone(backend: Backend) -> None:
    """A 1d budget resets at the next midnight of the gateway's time zone (LiteLLM's rule)."""
    zone = ZoneInfo("Asia/Kolkata")

    async def main(limits: Limits) -> None:
        await _hold(limits, 0.1, BudgetLimit("key:a", 1.0, "1d"))
        reset_at = (await limits.budgets.state("key:a")).reset_at
        assert reset_at is not None
        local = datetime.fromtimestamp(backend.clock.now, UTC).astimezone(zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        assert reset_at == midnight.timestamp()

    backend.run(main, timezone=zone)


def test_expired_reservation_is_given_back(backend: Backend) -> None:
    """A reservation never settled (its process died) stops holding budget when its lease ends."""

    async def main(limits: Limits) -> None:
        orphan = await _hold(limits, 0.75, KEY)
        await _refuse(limits, 0.5, KEY)
        backend.clock.advance(30)
        assert await limits.budgets.state("key:a") == BudgetState(0.0, 0.0, None)
        fresh = await _hold(limits, 1.0, KEY)  # the whole budget is free again
        await limits.budgets.settle(orphan, 0.5)  # a late settle still bills, frees nothing more
        assert await limits.budgets.state("key:a") == BudgetState(0.5, 1.0, None)
        await limits.budgets.settle(fresh, 0.25)
        assert await limits.budgets.state("key:a") == BudgetState(0.75, 0.0, None)

    backend.run(main, lease_ttl=30)


def test_seed_only_once_unless_overwritten(backend: Backend) -> None:
    """Seeding fills an unknown scope; a known one keeps its counter unless told to overwrite."""

    async def main(limits: Limits) -> None:
        assert await limits.budgets.seed("key:a", 0.25)
        assert not await limits.budgets.seed("key:a", 0.75)
        assert await limits.budgets.spent("key:a") == 0.25
        assert await limits.budgets.seed("key:a", 0.75, overwrite=True)
        assert await limits.budgets.spent("key:a") == 0.75
        await _refuse(limits, 0.5, KEY)

    backend.run(main)


class _Loader:
    """The database's spend, counting how often it is read."""

    def __init__(self, spend: Mapping[str, BudgetSeed]) -> None:
        self.spend = dict(spend)
        self.calls: list[list[str]] = []

    async def __call__(self, scopes: Sequence[str]) -> Mapping[str, BudgetSeed]:
        self.calls.append(sorted(scopes))
        return {scope: self.spend[scope] for scope in scopes if scope in self.spend}


def test_loader_reads_unknown_scopes_once(backend: Backend) -> None:
    """Scopes seen for the first time are read from the database once, then counted in the store."""
    loader = _Loader({"key:a": BudgetSeed(0.875)})

    async def main(limits: Limits) -> None:
        team = BudgetLimit("team:t", 5.0)
        await _refuse(limits, 0.25, KEY, team)
        await _hold(limits, 0.125, KEY, team)
        assert loader.calls == [["key:a", "team:t"]]
        assert await limits.budgets.state("team:t") == BudgetState(0.0, 0.125, None)
        assert await limits.budgets.spent("user:new") == 0.0
        assert loader.calls[-1] == ["user:new"]

    backend.run(main, loader=loader)


def test_loaded_spend_from_a_past_window_resets(backend: Backend) -> None:
    """A database total whose reset time has passed counts as 0 in the new window."""
    loader = _Loader({"key:a": BudgetSeed(0.875, reset_at=0.0)})

    async def main(limits: Limits) -> None:
        await _hold(limits, 0.5, BudgetLimit("key:a", 1.0, "30d"))
        state = await limits.budgets.state("key:a")
        assert state.spent == 0.0 and state.reset_at is not None and state.reset_at > backend.clock.now

    backend.run(main, loader=loader)


@pytest.mark.redis
def test_lost_redis_counter_is_reloaded(redis_backend: Backend) -> None:
    """When Redis loses a counter (restart, eviction) the next reservation reads the database again."""
    loader = _Loader({"key:a": BudgetSeed(0.5)})

    async def main(limits: Limits) -> None:
        await limits.budgets.settle(await _hold(limits, 0.25, KEY), 0.25)
        assert await limits.budgets.spent("key:a") == 0.75
        await redis_backend.client().delete(f"{redis_backend.prefix(limits)}bud:key:a")
        loader.spend["key:a"] = BudgetSeed(0.875)  # the spend writer has caught up meanwhile
        await _refuse(limits, 0.25, KEY)
        assert len(loader.calls) == 2

    redis_backend.run(main, loader=loader)


def test_budget_refusal_message_and_error(backend: Backend) -> None:
    """The refusal reads like LiteLLM's budget_exceeded, with spend and limit, and no key."""

    async def main(limits: Limits) -> None:
        await limits.budgets.seed("key:secretish", 50.0)
        refusal = await _refuse(limits, 0.5, BudgetLimit("key:secretish", 50.0))
        assert refusal.message.startswith("Budget has been exceeded for this key! Current cost: $50.0000")
        assert "max budget: $50.0000" in refusal.message and "secretish" not in refusal.message
        error = refusal.error()
        assert isinstance(error, BudgetExceededError)
        assert (error.status, error.code) == (400, "budget_exceeded")

    backend.run(main)
