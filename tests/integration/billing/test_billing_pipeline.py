"""Spend logs to billing events to Autumn, Stripe and a webhook: what is billed, what is sent, and
how failures are retried, parked, retried by hand or cancelled. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from billing_harness import AUTUMN_KEY, STRIPE_KEY, Clock, settings_for, spend

from bastion.billing import BillingWorkers
from bastion.billing.status import cancel_event, retry_event
from bastion.domain.errors import InvalidRequestError
from bastion.settings.billing import BillingSettings
from bastion.store import Database
from bastion.store.billing_records import BillingFilter
from support.fake_billing import FakeBilling

T = TypeVar("T")


def run(url: str | None, tmp_path: Path, scenario: Callable[[Database, Clock], Awaitable[T]]) -> T:
    async def main() -> T:
        clock = Clock()
        db = await Database.open(url, default_path=tmp_path / "bastion.db", clock=clock)
        try:
            return await scenario(db, clock)
        finally:
            await db.close()

    return asyncio.run(main())


def workers(db: Database, settings: BillingSettings, clock: Clock) -> BillingWorkers:
    return BillingWorkers(db.billing, settings, clock=clock)


def test_billable_records_become_events_with_markup(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """One event per billable record, amount = cost x markup (team override wins); BYOK, cache
    hits, master-key calls, team-less and zero-cost records are marked skipped, not billed."""

    async def scenario(db: Database, clock: Clock) -> Any:
        await db.spend.insert_spend_logs(
            [
                spend("r1", 0.01),
                spend("r2", 0.5, team="org_vip"),
                spend("byok", 0.2, user_key=True),
                spend("cached", 0.2, cache_hit=True),
                spend("master", 0.2, api_key="", team=None, user=None),
                spend("noteam", 0.2, team=None),
                spend("failed", 0.0, status="failure", http_status=500),
            ]
        )
        w = workers(db, settings_for(fake), clock)
        report = await w.bill()
        again = await w.bill()
        events = await db.billing.list_events()
        await w.stop()
        return report, again, events, await db.billing.count_unseen()

    report, again, events, unseen = run(database_url, tmp_path, scenario)
    assert (report.seen, report.billed) == (7, 2)
    assert report.skipped == {"user_key": 1, "cache_hit": 1, "master_key": 1, "no_team": 1, "zero_cost": 1}
    assert (again.seen, unseen) == (0, 0)
    by_request = {e.request_id: e for e in events}
    assert set(by_request) == {"r1", "r2"}
    assert by_request["r1"].amount == pytest.approx(0.03) and by_request["r1"].markup == 3
    assert by_request["r2"].amount == pytest.approx(1.0) and by_request["r2"].markup == 2
    assert by_request["r1"].idempotency_key == "spend:r1"
    assert by_request["r1"].status == "pending" and by_request["r1"].user == "session-1"


def test_a_record_committed_late_with_an_older_time_is_still_billed(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """No high-water mark: a row another gateway commits after a pass, timed before it, is billed."""

    async def scenario(db: Database, clock: Clock) -> list[str]:
        w = workers(db, settings_for(fake), clock)
        await db.spend.insert_spend_logs([spend("new", 0.1, minutes=10)])
        await w.bill()
        await db.spend.insert_spend_logs([spend("late", 0.1, minutes=1)])
        await w.bill()
        await w.stop()
        return sorted(e.request_id for e in await db.billing.list_events())

    assert run(database_url, tmp_path, scenario) == ["late", "new"]


def test_events_reach_every_sink_with_the_idempotency_key_and_credentials(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """Autumn track, Stripe meter event and signed webhook each get the event once; delivered."""

    async def scenario(db: Database, clock: Clock) -> Any:
        await db.spend.insert_spend_logs([spend("r1", 0.0123, team="org_vip")])
        w = workers(db, settings_for(fake), clock)
        report = await w.drain()
        await w.stop()
        return report, await db.billing.list_events()

    report, events = run(database_url, tmp_path, scenario)
    assert report.attempts == 1
    assert [e.status for e in events] == ["delivered"]
    assert sorted(events[0].delivered_sinks) == ["autumn", "stripe", "webhook"]
    autumn, stripe, hook = fake.calls("autumn"), fake.calls("stripe"), fake.calls("webhook")
    assert len(autumn) == len(stripe) == len(hook) == 1
    assert autumn[0].headers["Authorization"] == f"Bearer {AUTUMN_KEY}"
    assert autumn[0].fields["customer_id"] == "org_vip"
    assert autumn[0].fields["feature_id"] == "llm_credits"
    assert autumn[0].fields["value"] == pytest.approx(0.0246)
    assert autumn[0].fields["idempotency_key"] == "spend:r1"
    assert stripe[0].headers["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert stripe[0].headers["Idempotency-Key"] == "spend:r1"
    assert stripe[0].fields["payload[stripe_customer_id]"] == "org_vip"
    assert stripe[0].fields["payload[value]"] == "24600"  # micro-dollars
    assert stripe[0].fields["event_name"] == "llm_spend"
    assert hook[0].signature_ok is True
    assert hook[0].fields["amount_usd"] == "0.0246000000"


def test_failures_back_off_then_park_with_the_last_error(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """500, reset and timeout are retried after 10 s, 20 s...; after max_attempts the event parks
    with its last error; a sink that confirmed is not sent the event again. A reset on a kept
    connection looks like a stale one, so the HTTP client sends the event once more at once, on a
    fresh connection (safe: the idempotency key); only a reset there too is a failed attempt."""

    async def scenario(db: Database, clock: Clock) -> Any:
        await db.spend.insert_spend_logs([spend("r1", 0.01)])
        settings = settings_for(fake, sinks=("autumn", "webhook"))
        fake.fail("webhook", "500")
        fake.fail("webhook", "reset", times=2)
        fake.fail("webhook", "timeout")
        w = workers(db, settings, clock)
        await w.drain()
        first = (await db.billing.list_events())[0]
        early = await w.deliver()  # not due yet: nothing is sent
        clock.advance(10)
        await w.deliver()
        second = (await db.billing.list_events())[0]
        clock.advance(20)
        await w.deliver()
        parked = (await db.billing.list_events())[0]
        await w.stop()
        return first, early.attempts, second, parked

    first, early, second, parked = run(database_url, tmp_path, scenario)
    assert (first.status, first.attempts, first.delivered_sinks) == ("pending", 1, ("autumn",))
    assert "webhook answered 500" in (first.last_error or "")
    assert early == 0
    assert (second.attempts, second.status) == (2, "pending")
    assert "could not be reached" in (second.last_error or "")
    assert (parked.status, parked.attempts) == ("parked", 3)
    assert "did not answer within" in (parked.last_error or "")
    assert len(fake.calls("autumn")) == 1  # confirmed once, never re-sent
    assert len(fake.calls("webhook")) == 4


def test_a_refused_event_parks_at_once_and_can_be_retried_or_cancelled(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """A 400 (the event itself is wrong) parks without retries; retry sends it again; cancel ends it;
    neither works on an event that is not parked."""

    async def scenario(db: Database, clock: Clock) -> Any:
        await db.spend.insert_spend_logs([spend("r1", 0.01), spend("r2", 0.02, minutes=1)])
        fake.fail("autumn", "400", times=2)
        w = workers(db, settings_for(fake, sinks=("autumn",)), clock)
        await w.drain()
        parked = await db.billing.list_events(BillingFilter(status="parked"))
        one, two = sorted(parked, key=lambda e: e.id)
        await retry_event(db.billing, one.id)
        await cancel_event(db.billing, two.id)
        await w.deliver()
        with pytest.raises(InvalidRequestError):
            await retry_event(db.billing, two.id)
        totals = await db.billing.totals()
        await w.stop()
        return parked, {e.request_id: e.status for e in await db.billing.list_events()}, totals

    parked, statuses, totals = run(database_url, tmp_path, scenario)
    assert [e.attempts for e in parked] == [1, 1]
    assert "autumn answered 400: invalid_request: bad event" in (parked[0].last_error or "")
    assert statuses == {"r1": "delivered", "r2": "cancelled"}
    assert {(t.status, t.events) for t in totals} == {("delivered", 1), ("cancelled", 1)}
    assert sorted(fake.applied("autumn")) == ["spend:r1"]


def test_two_workers_at_once_send_each_event_once(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """Two workers (two engines, as two processes) drain together: every record billed once and
    every event sent once."""
    count = 120

    async def scenario(db: Database, clock: Clock) -> int:
        await db.spend.insert_spend_logs(
            [spend(f"r{i:03}", 0.001 * (i + 1), minutes=i) for i in range(count)]
        )
        other = await Database.open(
            None if db.engine.dialect.name == "sqlite" else str(database_url),
            default_path=tmp_path / "bastion.db",
            clock=clock,
        )
        settings = settings_for(fake, sinks=("stripe",), batch_size=7)
        a, b = workers(db, settings, clock), workers(other, settings, clock)
        try:
            await asyncio.gather(a.bill(), b.bill())
            await asyncio.gather(a.deliver(), b.deliver())
        finally:
            await a.stop()
            await b.stop()
            await other.close()
        return len(await db.billing.list_events(BillingFilter(status="delivered"), limit=1000))

    assert run(database_url, tmp_path, scenario) == count
    keys = [c.key for c in fake.calls("stripe")]
    assert len(keys) == count == len(set(keys))
    assert sum(fake.applied("stripe").values()) == sum(
        int(Decimal(str(0.001 * (i + 1))) * 3 * 1_000_000) for i in range(count)
    )


def test_a_sink_that_already_has_the_key_confirms_the_event(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """Stripe refusing a repeated identifier means the event is there: delivered, not parked."""

    async def scenario(db: Database, clock: Clock) -> list[str]:
        await db.spend.insert_spend_logs([spend("r1", 0.01)])
        fake.fail("stripe", "duplicate")
        w = workers(db, settings_for(fake, sinks=("stripe",)), clock)
        await w.drain()
        await w.stop()
        return [e.status for e in await db.billing.list_events()]

    assert run(database_url, tmp_path, scenario) == ["delivered"]
    assert len(fake.calls("stripe")) == 1


class _BrokenSink:
    """A sink with a bug: raises something that is not a DeliveryError."""

    name = "broken"

    async def send(self, event: object) -> None:
        raise KeyError("bug")


def test_a_sink_bug_is_retried_then_parked_not_stalled(
    database_url: str | None, tmp_path: Path, fake: FakeBilling
) -> None:
    """An unexpected exception counts as a failed attempt, with the exception's type as error."""

    async def scenario(db: Database, clock: Clock) -> Any:
        await db.spend.insert_spend_logs([spend("r1", 0.01)])
        settings = settings_for(fake, sinks=(), max_attempts=1)
        w = BillingWorkers(db.billing, settings, sinks=[_BrokenSink()], clock=clock)
        await w.drain()
        await w.stop()
        return await db.billing.list_events()

    [event] = run(database_url, tmp_path, scenario)
    assert (event.status, event.last_error) == ("parked", "broken failed: KeyError")
