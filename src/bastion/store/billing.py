"""The billing outbox: spend logs become billing events, and delivery is claimed and settled here.

**Seeing spend exactly once.** Each spend log carries a mark, ``billing``: NULL until the billing
worker has looked at it, then ``billed`` or ``skip:<reason>``. :meth:`BillingRepository.bill_unseen`
reads unmarked rows (oldest ``start_time`` first), writes their events and marks them in ONE
transaction, so a crash anywhere either keeps all of it or none of it. There is no high-water
mark that could pass over a row another gateway process commits late: a late row is simply still
unmarked at the next pass. On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``, so two
billing workers share the work; on SQLite the write transaction (``BEGIN IMMEDIATE``) serializes
them. The unique ``request_id`` and ``idempotency_key`` of the events make a double insert
impossible either way.

**Claiming delivery.** :meth:`BillingRepository.claim_due` leases due events to one worker with a
single conditional ``UPDATE ... RETURNING`` (the lease is taken only where no live lease exists;
PostgreSQL also skips rows another claim has locked). :meth:`BillingRepository.settle` records
the outcome only while the worker still holds the lease.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._dialects import insert_into
from bastion.store._mapping import record_from_row
from bastion.store._transactions import reading, writing
from bastion.store.billing_records import (
    BillingEventRecord,
    BillingFilter,
    BillingRound,
    BillingTotals,
    NewEvent,
)
from bastion.store.records import SpendLogRecord
from bastion.store.schema import billing_events, spend_logs

__all__ = ["BILLED", "BillingRepository", "Decide"]

_events = billing_events
_logs = spend_logs
BILLED = "billed"
_ERROR_LENGTH = 1000

#: The billing rules: a spend record -> its event, or the reason it is not billed.
Decide = Callable[[SpendLogRecord], NewEvent | str]


class BillingRepository:
    """Async access to the billing marks of spend logs and to the billing events."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def bill_unseen(self, decide: Decide, *, limit: int = 500) -> BillingRound:
        """Turn up to ``limit`` unseen spend logs into events (or skips), atomically."""
        now = self._clock()
        query = (
            select(_logs)
            .where(_logs.c.billing.is_(None))
            .order_by(_logs.c.start_time, _logs.c.request_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with writing(self._engine) as conn:
            rows = (await conn.execute(query)).all()
            if not rows:
                return BillingRound()
            marks: list[dict[str, str]] = []
            events: list[dict[str, Any]] = []
            skipped: dict[str, int] = {}
            for row in rows:
                record = record_from_row(SpendLogRecord, row)
                outcome = decide(record)
                if isinstance(outcome, str):
                    mark = f"skip:{outcome}"[:32]
                    skipped[outcome] = skipped.get(outcome, 0) + 1
                else:
                    mark = BILLED
                    events.append(_event_values(record, outcome, now))
                marks.append({"b_id": record.request_id, "b_mark": mark})
            if events:
                await _insert_events(conn, events)
            await conn.execute(
                update(_logs)
                .where(_logs.c.request_id == bindparam("b_id"))
                .values(billing=bindparam("b_mark")),
                marks,
            )
        return BillingRound(seen=len(rows), billed=len(events), skipped=skipped)

    async def count_unseen(self) -> int:
        """Spend logs the billing worker has not looked at yet."""
        async with reading(self._engine) as conn:
            query = select(func.count()).select_from(_logs).where(_logs.c.billing.is_(None))
            return int((await conn.execute(query)).scalar_one())

    async def claim_due(self, owner: str, *, limit: int, lease_seconds: float) -> list[BillingEventRecord]:
        """Lease up to ``limit`` pending events whose next attempt is due to ``owner``."""
        now = self._clock()
        free = or_(_events.c.lease_until.is_(None), _events.c.lease_until <= now)
        due = and_(_events.c.status == "pending", _events.c.next_attempt_at <= now, free)
        candidates = (
            select(_events.c.id)
            .where(due)
            .order_by(_events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(_events)
            .where(_events.c.id.in_(candidates.scalar_subquery()), due)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(*_events.c)
        )
        async with writing(self._engine) as conn:
            rows = (await conn.execute(claim)).all()
        return sorted((_record(row) for row in rows), key=lambda r: r.id)

    async def settle(
        self,
        event: BillingEventRecord,
        owner: str,
        *,
        delivered_sinks: Sequence[str],
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record a delivery attempt of a leased event; whether ``owner`` still held the lease.

        ``error`` None: delivered. Otherwise the attempt counts; ``next_attempt_at`` None parks the
        event, a time schedules the retry. Either way the lease is released.
        """
        now = self._clock()
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "delivered_sinks": list(delivered_sinks),
            "updated_at": now,
        }
        if error is None:
            values.update(status="delivered", delivered_at=now, last_error=None)
        else:
            values.update(attempts=_events.c.attempts + 1, last_error=error[:_ERROR_LENGTH])
            if next_attempt_at is None:
                values["status"] = "parked"
            else:
                values["next_attempt_at"] = next_attempt_at
        query = (
            update(_events)
            .where(_events.c.id == event.id, _events.c.lease_owner == owner, _events.c.status == "pending")
            .values(values)
        )
        async with writing(self._engine) as conn:
            return (await conn.execute(query)).rowcount == 1

    async def retry(self, event_id: int) -> BillingEventRecord | None:
        """Send a parked event again from its first attempt; None unless it was parked."""
        now = self._clock()
        changes = {"status": "pending", "attempts": 0, "next_attempt_at": now, "updated_at": now}
        return await self._change(event_id, "parked", changes)

    async def cancel(self, event_id: int) -> BillingEventRecord | None:
        """Give up on a parked event for good; None unless it was parked."""
        return await self._change(event_id, "parked", {"status": "cancelled", "updated_at": self._clock()})

    async def _change(self, event_id: int, status: str, values: dict[str, Any]) -> BillingEventRecord | None:
        query = (
            update(_events)
            .where(_events.c.id == event_id, _events.c.status == status)
            .values(values)
            .returning(*_events.c)
        )
        async with writing(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _record(row)

    async def get(self, event_id: int) -> BillingEventRecord | None:
        async with reading(self._engine) as conn:
            row = (await conn.execute(select(_events).where(_events.c.id == event_id))).first()
        return None if row is None else _record(row)

    async def list_events(
        self, where: BillingFilter | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[BillingEventRecord]:
        """Events matching ``where`` (default: all), newest first."""
        query = (
            select(_events)
            .where(*_conditions(where))
            .order_by(_events.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    async def totals(self, where: BillingFilter | None = None) -> list[BillingTotals]:
        """Count, cost and billed amount per org and status, orgs in name order."""
        query = (
            select(
                _events.c.team_id,
                _events.c.status,
                func.count(),
                func.coalesce(func.sum(_events.c.cost), 0),
                func.coalesce(func.sum(_events.c.amount), 0),
            )
            .where(*_conditions(where))
            .group_by(_events.c.team_id, _events.c.status)
            .order_by(_events.c.team_id, _events.c.status)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [BillingTotals(r[0], r[1], int(r[2]), float(r[3]), float(r[4])) for r in rows]


def _conditions(where: BillingFilter | None) -> list[ColumnElement[bool]]:
    where = where or BillingFilter()
    found: list[ColumnElement[bool]] = []
    if where.team_id is not None:
        found.append(_events.c.team_id == where.team_id)
    if where.status is not None:
        found.append(_events.c.status == where.status)
    if where.start is not None:
        found.append(_events.c.occurred_at >= where.start)
    if where.end is not None:
        found.append(_events.c.occurred_at < where.end)
    return found


def _event_values(record: SpendLogRecord, new: NewEvent, now: datetime) -> dict[str, Any]:
    return {
        "idempotency_key": new.idempotency_key,
        "request_id": record.request_id,
        "team_id": new.team_id,
        "user": record.user,
        "end_user": record.end_user,
        "model_group": record.model_group,
        "model": record.model,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "total_tokens": record.total_tokens,
        "cost": new.cost,
        "markup": new.markup,
        "amount": new.amount,
        "occurred_at": record.start_time,
        "created_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_sinks": [],
        "updated_at": now,
    }


async def _insert_events(conn: AsyncConnection, events: list[dict[str, Any]]) -> None:
    query = insert_into(_events, conn.dialect.name).on_conflict_do_nothing(
        index_elements=[_events.c.request_id]
    )
    await conn.execute(query, events)


def _record(row: Row[Any]) -> BillingEventRecord:
    values = dict(row._mapping)
    values["delivered_sinks"] = tuple(values.get("delivered_sinks") or ())
    return BillingEventRecord(**values)
