"""Spend logs: one row per request, written in batches, and the spend totals they add up to.

:meth:`SpendRepository.insert_spend_logs` is the only writer of spend. In ONE transaction it
inserts the batch (a record whose ``request_id`` is already stored is skipped, so a batch can be
retried after a lost connection) and adds the cost of exactly the inserted records to the
``spend`` of their key, user and team. Totals therefore always equal the sum of the logs. The
insert returns no rows: its row count says whether every record was new (the common case, whose
costs are then the batch's own); a batch some of whose records were stored before (a replay) is
rolled back and written again with an insert that returns the new request ids.

Concurrent writers (several processes on one PostgreSQL) cannot deadlock: every transaction locks
key rows, then log entries, then user rows, then team rows, each in sorted order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ColumnElement, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine

from bastion.store._bulk_insert import RecordsetInsert, member_of
from bastion.store._mapping import record_from_row, record_values
from bastion.store._transactions import reading, writing
from bastion.store._types import to_money
from bastion.store.records import DailyUsage, GroupedSpend, SpendLogRecord, SpendTotals
from bastion.store.schema import deprecated_tokens, spend_logs, teams, users, verification_tokens

__all__ = ["BUCKETS", "SPEND_GROUPS", "RequestTiming", "SpendFilter", "SpendRepository", "TimedSpend"]


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """What the dashboard's overview needs of one request: when, how long, how it ended, its cost."""

    start_time: datetime
    end_time: datetime | None
    completion_start_time: datetime | None
    status: str
    total_tokens: int
    spend: float


@dataclass(frozen=True, slots=True)
class TimedSpend:
    """Spend logs summed for one time bucket (``YYYY-MM-DD`` or ``YYYY-MM-DD HH``, UTC) and group."""

    bucket: str
    group: str | None
    requests: int
    errors: int
    total_tokens: int
    spend: float


_keys = verification_tokens
_logs = spend_logs
#: What spend can be grouped by: the name a caller uses, and the spend log column.
SPEND_GROUPS = {"team": "team_id", "user": "user", "key": "api_key", "model": "model_group"}
#: Also for the dashboard's models page: requests per deployment.
_GROUP_COLUMNS = {**SPEND_GROUPS, "deployment": "deployment_id"}
#: Time buckets of :meth:`SpendRepository.spend_over_time`: how many leading characters of
#: ``YYYY-MM-DD HH`` name one, and PostgreSQL's format for the same text.
BUCKETS = {"day": (10, "YYYY-MM-DD"), "hour": (13, "YYYY-MM-DD HH24")}
# Rounds of following regenerated tokens while a regeneration races with a batch.
_REDIRECT_ROUNDS = 3
#: Rows per insert statement of a batch (one transaction). The spend writer's batches are large
#: (up to 500 rows, cheap per row), but the client-side work of turning rows into one statement's
#: parameters runs on the event loop: a whole batch in one go held it for milliseconds at a time,
#: the tail latency of every request that arrived meanwhile. A slice's work is a fraction of a
#: millisecond, and the loop serves requests while the database runs it.
_SLICE = 64
# Every column but the billing worker's mark, which a new log leaves NULL (not yet billed).
_BULK_LOGS = RecordsetInsert(
    spend_logs, spend_logs.c.request_id, columns=[c for c in spend_logs.columns if c.name != "billing"]
)


@dataclass(frozen=True, slots=True)
class SpendFilter:
    """Which spend logs: every given field must match; ``start`` inclusive, ``end`` exclusive."""

    api_key: str | None = None
    team_id: str | None = None
    user: str | None = None
    end_user: str | None = None
    model_group: str | None = None
    request_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    #: ``success`` or ``failure``.
    status: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        equal = (
            (_logs.c.api_key, self.api_key),
            (_logs.c.team_id, self.team_id),
            (_logs.c.user, self.user),
            (_logs.c.end_user, self.end_user),
            (_logs.c.model_group, self.model_group),
            (_logs.c.request_id, self.request_id),
            (_logs.c.status, self.status),
        )
        found = [column == value for column, value in equal if value is not None]
        if self.start is not None:
            found.append(_logs.c.start_time >= self.start)
        if self.end is not None:
            found.append(_logs.c.start_time < self.end)
        return found


class SpendRepository:
    """Async access to spend logs and the spend totals of keys, users and teams."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_spend_logs(self, batch: Sequence[SpendLogRecord]) -> int:
        """Store ``batch`` and add its cost to the totals; how many records were new.

        Idempotent on ``request_id``: records already stored (or repeated in the batch) are
        neither stored nor counted again. A record carrying a regenerated key's old token is
        stored under the key's current token.
        """
        return await self.insert_spend_rows([record_values(record) for record in batch])

    async def insert_spend_rows(self, batch: Sequence[Mapping[str, Any]]) -> int:
        """:meth:`insert_spend_logs` for rows of column values, the spend writer's form: every
        ``spend_logs`` column but ``billing``, values valid for their columns, times as aware
        datetimes or Unix seconds. Every statement's text is the same whatever the batch size (see
        :mod:`bastion.store._bulk_insert`), so statement caches never grow with it."""
        unique = {row["request_id"]: row for row in reversed(batch)}
        if not unique:
            return 0
        rows = [unique[request_id] for request_id in sorted(unique)]
        try:
            return await self._insert(rows, replayed=False)
        except _StoredBefore:  # a replayed batch: some rows were stored before; find out which
            return await self._insert(rows, replayed=True)

    async def _insert(self, rows: list[Mapping[str, Any]], *, replayed: bool) -> int:
        """One transaction: lock the keys, insert the logs, add the new ones' cost to the totals.
        A first try (``replayed`` false) takes every row as new and raises :class:`_StoredBefore`
        (rolling everything back) when the insert says some were not."""
        async with writing(self._engine) as conn:
            current = await _lock_current_tokens(conn, {r["api_key"] for r in rows if r["api_key"]})
            rows = [
                {**r, "api_key": current[r["api_key"]]}
                if current.get(r["api_key"], r["api_key"]) != r["api_key"]
                else r
                for r in rows
            ]
            if replayed:
                inserted = await _insert_new(conn, rows)
                stored = [r for r in rows if r["request_id"] in inserted]
            else:
                await _insert_all(conn, rows)
                stored = rows
            keys, owners, groups = await _owner_sums(stored)
            await _add_spend(conn, _keys.c.token, _keys.c.spend, keys)
            await _add_spend(conn, users.c.user_id, users.c.spend, owners)
            await _add_spend(conn, teams.c.team_id, teams.c.spend, groups)
        return len(stored)

    async def query_spend_logs(
        self, where: SpendFilter = SpendFilter(), *, limit: int = 100, offset: int = 0
    ) -> list[SpendLogRecord]:
        """Logs matching ``where``, newest first."""
        query = (
            select(_logs)
            .where(*where.conditions())
            .order_by(_logs.c.start_time.desc(), _logs.c.request_id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [record_from_row(SpendLogRecord, row) for row in rows]

    async def summarize_spend(self, where: SpendFilter = SpendFilter()) -> SpendTotals:
        """Count, cost and tokens of the logs matching ``where``."""
        query = select(
            func.count(),
            func.coalesce(func.sum(_logs.c.spend), 0),
            func.coalesce(func.sum(_logs.c.prompt_tokens), 0),
            func.coalesce(func.sum(_logs.c.completion_tokens), 0),
            func.coalesce(func.sum(_logs.c.total_tokens), 0),
            func.coalesce(func.sum(_logs.c.cache_read_tokens), 0),
        ).where(*where.conditions())
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).one()
        return SpendTotals(int(row[0]), float(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]))

    async def request_timings(
        self, where: SpendFilter = SpendFilter(), *, limit: int = 100_000
    ) -> list[RequestTiming]:
        """The newest ``limit`` logs matching ``where``: times, status, tokens and cost only."""
        query = (
            select(
                _logs.c.start_time,
                _logs.c.end_time,
                _logs.c.completion_start_time,
                _logs.c.status,
                _logs.c.total_tokens,
                _logs.c.spend,
            )
            .where(*where.conditions())
            .order_by(_logs.c.start_time.desc())
            .limit(limit)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [RequestTiming(r[0], r[1], r[2], str(r[3]), int(r[4] or 0), float(r[5] or 0.0)) for r in rows]

    async def spend_by(
        self, group: str, where: SpendFilter = SpendFilter(), *, limit: int = 50
    ) -> list[GroupedSpend]:
        """The logs matching ``where`` summed per ``group`` (a key of ``SPEND_GROUPS``): the
        costliest first, then the busiest; at most ``limit`` groups."""
        column = _logs.c[_GROUP_COLUMNS[group]]
        total = func.coalesce(func.sum(_logs.c.spend), 0)
        query = (
            select(
                column,
                func.count(),
                func.coalesce(func.sum(_logs.c.prompt_tokens), 0),
                func.coalesce(func.sum(_logs.c.completion_tokens), 0),
                func.coalesce(func.sum(_logs.c.total_tokens), 0),
                total,
                func.coalesce(func.sum(case((_logs.c.status == "failure", 1), else_=0)), 0),
            )
            .where(*where.conditions())
            .group_by(column)
            .order_by(total.desc(), func.count().desc(), column)
            .limit(limit)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [
            GroupedSpend(
                group=r[0],
                requests=int(r[1]),
                prompt_tokens=int(r[2]),
                completion_tokens=int(r[3]),
                total_tokens=int(r[4]),
                spend=float(r[5]),
                errors=int(r[6]),
            )
            for r in rows
        ]

    async def spend_over_time(
        self, group: str, where: SpendFilter = SpendFilter(), *, bucket: str = "day", limit: int = 20_000
    ) -> list[TimedSpend]:
        """The logs matching ``where`` summed per time ``bucket`` (a key of ``BUCKETS``) and
        ``group`` (a key of ``SPEND_GROUPS``): oldest bucket first, at most ``limit`` rows."""
        column = _logs.c[_GROUP_COLUMNS[group]]
        async with reading(self._engine) as conn:
            when = _bucket_text(conn, bucket).label("bucket")
            query = (
                select(
                    when,
                    column,
                    func.count(),
                    func.coalesce(func.sum(case((_logs.c.status == "failure", 1), else_=0)), 0),
                    func.coalesce(func.sum(_logs.c.total_tokens), 0),
                    func.coalesce(func.sum(_logs.c.spend), 0),
                )
                .where(*where.conditions())
                .group_by(when, column)
                .order_by(when, column)
                .limit(limit)
            )
            rows = (await conn.execute(query)).all()
        return [TimedSpend(str(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), float(r[5])) for r in rows]

    async def plan_usage(self, plan: str, start: datetime) -> tuple[int, int, int]:
        """Of the logs admitted under ``plan`` since ``start``: requests, distinct end users (their
        ``user``, else ``end_user``), and tokens (input plus output)."""
        member = func.coalesce(_logs.c.user, _logs.c.end_user)
        query = select(
            func.count(),
            func.count(func.distinct(member)),
            func.coalesce(func.sum(_logs.c.prompt_tokens + _logs.c.completion_tokens), 0),
        ).where(_logs.c.plan == plan, _logs.c.start_time >= start)
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).one()
        return int(row[0]), int(row[1]), int(row[2])

    async def last_used(self, api_keys: Sequence[str]) -> dict[str, datetime]:
        """When each of ``api_keys`` (spend logs' ``api_key``) last made a request; absent: never."""
        if not api_keys:
            return {}
        query = (
            select(_logs.c.api_key, func.max(_logs.c.start_time))
            .where(_logs.c.api_key.in_(list(api_keys)))
            .group_by(_logs.c.api_key)
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return {str(r[0]): r[1] for r in rows if r[1] is not None}

    async def daily_usage(self, where: SpendFilter = SpendFilter()) -> list[DailyUsage]:
        """The logs matching ``where`` summed per UTC day, user and model group (oldest day first)."""
        async with reading(self._engine) as conn:
            day = _bucket_text(conn, "day").label("day")
            query = (
                select(
                    day,
                    _logs.c.user,
                    _logs.c.model_group,
                    func.count(),
                    func.coalesce(func.sum(_logs.c.prompt_tokens), 0),
                    func.coalesce(func.sum(_logs.c.completion_tokens), 0),
                    func.coalesce(func.sum(_logs.c.total_tokens), 0),
                    func.coalesce(func.sum(_logs.c.spend), 0),
                    func.coalesce(func.sum(case((_logs.c.user_key, _logs.c.spend), else_=0)), 0),
                )
                .where(*where.conditions())
                .group_by(day, _logs.c.user, _logs.c.model_group)
                .order_by(day, _logs.c.user, _logs.c.model_group)
            )
            rows = (await conn.execute(query)).all()
        return [
            DailyUsage(
                day=str(r[0]),
                user=r[1],
                model_group=r[2],
                requests=int(r[3]),
                prompt_tokens=int(r[4]),
                completion_tokens=int(r[5]),
                total_tokens=int(r[6]),
                spend=float(r[7]),
                user_key_spend=float(r[8]),
            )
            for r in rows
        ]


def _bucket_text(conn: AsyncConnection, bucket: str) -> ColumnElement[str]:
    """``start_time`` as the UTC text naming its ``bucket`` (``YYYY-MM-DD`` or ``YYYY-MM-DD HH``)."""
    length, pattern = BUCKETS[bucket]
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", _logs.c.start_time), pattern)
    # SQLite keeps naive UTC text: 'YYYY-MM-DD HH:MM:SS...'
    return func.substr(_logs.c.start_time, 1, length)


async def _lock_current_tokens(conn: AsyncConnection, tokens: set[str]) -> dict[str, str]:
    """Map each token to its key's current token, and lock those key rows until commit.

    Locking first means a regeneration either finished before (and its old token is followed
    through ``deprecated_tokens``) or waits until this batch is committed (and then re-points
    the batch's logs itself). Tokens of deleted keys, or of no key at all, are left out.
    """
    current = {token: token for token in await _lock_keys(conn, tokens)}
    missing = tokens - current.keys()
    for _ in range(_REDIRECT_ROUNDS):
        if not missing:
            break
        query = select(deprecated_tokens.c.token, deprecated_tokens.c.active_token).where(
            member_of(deprecated_tokens.c.token, missing, conn.dialect)
        )
        redirect = {row.token: row.active_token for row in await conn.execute(query)}
        if not redirect:
            break
        locked = await _lock_keys(conn, set(redirect.values()))
        current.update({old: new for old, new in redirect.items() if new in locked})
        missing = set(redirect) - current.keys()
    return current


async def _lock_keys(conn: AsyncConnection, tokens: set[str]) -> set[str]:
    if not tokens:
        return set()
    query = (
        select(_keys.c.token).where(member_of(_keys.c.token, tokens, conn.dialect)).order_by(_keys.c.token)
    )
    # FOR UPDATE on PostgreSQL; SQLite has one writer at a time and ignores it.
    return set((await conn.execute(query.with_for_update())).scalars())


class _StoredBefore(Exception):
    """Some rows of a batch taken as new were stored before (rolls the transaction back)."""


async def _insert_all(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows that should all be new (fixed statements, nothing returned); raise
    :class:`_StoredBefore` if the database skipped some (their request ids were stored before).
    A batch is replayed only after a lost connection or a crash, so nearly always the ids stored
    are the batch's own and no row comes back. Sent in slices (:data:`_SLICE`)."""
    dialect = conn.dialect
    inserted = 0
    for part in _slices(rows):
        if dialect.name == "postgresql":
            result = await conn.execute(_BULK_LOGS.statement(dialect), _BULK_LOGS.parameters(part, dialect))
        else:  # SQLite sums the rows each insert of the executemany changed
            parameters = _BULK_LOGS.sqlite_parameters(part)
            result = await conn.exec_driver_sql(_BULK_LOGS.sqlite_statement(), parameters)
        inserted += result.rowcount
    if inserted != len(rows):
        raise _StoredBefore


async def _insert_new(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert the rows (fixed statements, in slices) and return the request ids that were not
    there yet."""
    dialect = conn.dialect
    inserted: set[str] = set()
    if dialect.name == "postgresql":
        statement = _BULK_LOGS.statement(dialect, returning=True)
        for part in _slices(rows):
            inserted.update((await conn.execute(statement, _BULK_LOGS.parameters(part, dialect))).scalars())
        return inserted
    # SQLite: one writer at a time (BEGIN IMMEDIATE), so the ids not stored before the insert are
    # exactly the ones it stores; executemany cannot return rows.
    ids = [row["request_id"] for row in rows]
    query = select(_logs.c.request_id).where(member_of(_logs.c.request_id, ids, dialect))
    stored = set((await conn.execute(query)).scalars())
    fresh = [row for row in rows if row["request_id"] not in stored]
    for part in _slices(fresh):
        await conn.exec_driver_sql(_BULK_LOGS.sqlite_statement(), _BULK_LOGS.sqlite_parameters(part))
    return {row["request_id"] for row in fresh}


def _slices(rows: Sequence[Mapping[str, Any]]) -> Iterator[Sequence[Mapping[str, Any]]]:
    """``rows`` in slices of :data:`_SLICE`, each sent as a statement of its own."""
    for start in range(0, len(rows), _SLICE):
        yield rows[start : start + _SLICE]


async def _owner_sums(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Decimal], ...]:
    """Cost per key, per user and per team, summed in decimal at the stored precision (exact on
    PostgreSQL); other tasks run between slices of rows (see :data:`_SLICE`)."""
    totals = tuple(defaultdict[str, Decimal](Decimal) for _ in _OWNERS)
    for start in range(0, len(rows), _SLICE):
        if start:
            await asyncio.sleep(0)
        for row in rows[start : start + _SLICE]:
            amount = None
            for owner, sums in zip(_OWNERS, totals, strict=True):
                key = row.get(owner)
                if key:
                    if amount is None:
                        amount = to_money(row["spend"])
                    sums[key] += amount
    return tuple({key: total for key, total in sums.items() if total} for sums in totals)


#: Whose spend totals a log adds to: its key, its user, its team.
_OWNERS = ("api_key", "user", "team_id")


async def _add_spend(
    conn: AsyncConnection, id_column: Column[str], spend_column: Column[float], sums: dict[str, Decimal]
) -> None:
    if not sums:
        return
    table = id_column.table
    query = (
        update(table)
        .where(id_column == bindparam("b_id"))
        .values({spend_column.name: spend_column + bindparam("b_delta", type_=spend_column.type)})
    )
    # Sorted: concurrent batches take the row locks in one order and cannot deadlock.
    await conn.execute(query, [{"b_id": key, "b_delta": sums[key]} for key in sorted(sums)])
