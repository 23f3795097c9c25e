"""Where budget counters start: the spend in the database plus the spend rows not written yet.

A counter is seeded on first use, after a restart, and after Redis lost it. The database holds
every written row (a key's, team's or user's ``spend`` total, or the logs of the current
``budget_duration`` window); the spend writer still holds the rows of requests answered in the last
moment, or all of them while the database was down. Both count, so neither a restart nor a Redis
outage gives a budget back. (Rows another process has not written yet are not seen: at most its
last second of spend.)
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bastion.limits.durations import parse_duration
from bastion.limits.reservation import BudgetSeed, SpendLoader
from bastion.store.database import Database
from bastion.store.records import KeyRecord, TeamRecord, UserRecord
from bastion.store.spend import SpendFilter

__all__ = ["UnwrittenRows", "spend_loader"]

Row = dict[str, Any]
#: ``SpendWriter.with_unwritten``: a database read, and the rows not in the database yet.
_Seeds = dict[str, BudgetSeed]
UnwrittenRows = Callable[[Callable[[], Awaitable[_Seeds]]], Awaitable[tuple[_Seeds, list[Row]]]]

#: The row field that names each kind of owner (end users of jwt_auth are logged as ``user``).
_OWNER_FIELDS = {"key": "api_key", "team": "team_id", "user": "user", "end_user": "user"}


def spend_loader(
    database: Database, *, unwritten: UnwrittenRows | None = None, end_user_budget: str | None = None
) -> SpendLoader:
    """Seeds from ``database`` plus ``unwritten`` rows: the all-time total, or with a
    ``budget_duration`` the spend since the window began.

    End users of ``jwt_auth`` have no row: their spend is summed from the logs written under their
    user id, over ``end_user_budget`` (the ``user_limits.budget_duration``) when one is set."""

    async def load(scopes: Sequence[str]) -> dict[str, BudgetSeed]:
        now = datetime.now(UTC)
        starts: dict[str, float] = {}  # the window start of each windowed scope

        def read() -> Awaitable[dict[str, BudgetSeed]]:
            return _stored(database, scopes, end_user_budget, now, starts)

        if unwritten is None:
            return await read()
        stored, rows = await unwritten(read)
        return {scope: _plus(scope, seed, rows, starts.get(scope)) for scope, seed in stored.items()}

    return load


async def _stored(
    database: Database,
    scopes: Sequence[str],
    end_user_budget: str | None,
    now: datetime,
    starts: dict[str, float],
) -> dict[str, BudgetSeed]:
    seeds: dict[str, BudgetSeed] = {}
    for scope in scopes:
        kind, _, ident = scope.partition(":")
        row: KeyRecord | TeamRecord | UserRecord | None = None
        owner = SpendFilter()
        duration: str | None = None
        if kind == "key":
            row, owner = await database.keys.get(ident), SpendFilter(api_key=ident)
        elif kind == "team":
            row, owner = await database.teams.get(ident), SpendFilter(team_id=ident)
        elif kind == "user":
            row, owner = await database.users.get(ident), SpendFilter(user=ident)
        elif kind == "end_user":
            owner, duration = SpendFilter(user=ident), end_user_budget
        else:
            continue
        if row is not None:
            duration = row.budget_duration
            if not duration:
                seeds[scope] = BudgetSeed(spent=row.spend)
                continue
        elif kind != "end_user":
            continue
        if duration is None:
            seeds[scope] = BudgetSeed(spent=(await database.spend.summarize_spend(owner)).spend)
            continue
        window = parse_duration(duration)
        began = window.window_start(now)
        starts[scope] = began.timestamp()
        spent = (await database.spend.summarize_spend(replace(owner, start=began))).spend
        seeds[scope] = BudgetSeed(spent=spent, reset_at=window.next_reset(now).timestamp())
    return seeds


def _plus(scope: str, seed: BudgetSeed, rows: list[Row], start: float | None) -> BudgetSeed:
    """``seed`` plus the spend of the unwritten rows of ``scope`` (in its window, if it has one)."""
    kind, _, ident = scope.partition(":")
    name = _OWNER_FIELDS.get(kind)
    if name is None:
        return seed
    extra = 0.0
    for row in rows:
        if row.get(name) != ident:
            continue
        began, spend = row.get("start_time"), row.get("spend")
        if start is not None and isinstance(began, int | float) and began < start:
            continue
        if isinstance(spend, int | float) and not isinstance(spend, bool) and math.isfinite(spend):
            extra += float(spend)
    return replace(seed, spent=seed.spent + extra) if extra else seed
