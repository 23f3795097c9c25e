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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bastion.limits.durations import parse_duration
from bastion.limits.reservation import BudgetSeed, SpendLoader
from bastion.store.database import Database
from bastion.store.records import KeyRecord, TeamRecord, UserRecord
from bastion.store.spend import SpendFilter

__all__ = ["PlanWindows", "UnwrittenRows", "spend_loader"]

Row = dict[str, Any]
#: ``SpendWriter.with_unwritten``: a database read, and the rows not in the database yet.
_Seeds = dict[str, BudgetSeed]
UnwrittenRows = Callable[[Callable[[], Awaitable[_Seeds]]], Awaitable[tuple[_Seeds, list[Row]]]]

#: The row field that names each kind of owner (end users of jwt_auth are logged as ``user``, a
#: key's customers of ``/customer/new`` as ``end_user``).
_OWNER_FIELDS = {
    "key": "api_key",
    "team": "team_id",
    "user": "user",
    "end_user": "user",
    "customer": "end_user",
}
_MEMBER_FILTERS = {"end_user": "user", "customer": "end_user"}


@dataclass(frozen=True, slots=True)
class PlanWindows:
    """The windows of members of plans, as admission last saw them (by scope): their budget's
    ``budget_duration``, and their quota's ``(quota_duration, count_cache_reads)`` by
    ``quota:<member>`` scope."""

    budgets: dict[str, str | None] = field(default_factory=dict)
    quotas: dict[str, tuple[str | None, bool]] = field(default_factory=dict)


def spend_loader(
    database: Database,
    *,
    unwritten: UnwrittenRows | None = None,
    end_user_budget: str | None = None,
    plans: PlanWindows | None = None,
) -> SpendLoader:
    """Seeds from ``database`` plus ``unwritten`` rows: the all-time total, or with a
    ``budget_duration`` the spend since the window began.

    End users of ``jwt_auth`` have no row: their spend is summed from the logs written under their
    user id, over ``end_user_budget`` (the ``user_limits.budget_duration``) when one is set, or
    over their plan's window (``plans``). A plan's token quota (``quota:<member>``) is seeded with
    the tokens the member's logs counted in the quota's window."""
    windows = plans or PlanWindows()

    async def load(scopes: Sequence[str]) -> dict[str, BudgetSeed]:
        now = datetime.now(UTC)
        starts: dict[str, float] = {}  # the window start of each windowed scope

        def read() -> Awaitable[dict[str, BudgetSeed]]:
            return _stored(database, scopes, end_user_budget, windows, now, starts)

        if unwritten is None:
            return await read()
        stored, rows = await unwritten(read)
        return {scope: _plus(scope, seed, rows, starts.get(scope), windows) for scope, seed in stored.items()}

    return load


async def _stored(
    database: Database,
    scopes: Sequence[str],
    end_user_budget: str | None,
    windows: PlanWindows,
    now: datetime,
    starts: dict[str, float],
) -> dict[str, BudgetSeed]:
    seeds: dict[str, BudgetSeed] = {}
    for scope in scopes:
        kind, _, ident = scope.partition(":")
        row: KeyRecord | TeamRecord | UserRecord | None = None
        owner = SpendFilter()
        duration: str | None = None
        if kind == "quota":
            seeds[scope] = await _quota_seed(database, scope, ident, windows, now, starts)
            continue
        if kind == "plan":  # a key's or a team's plan: its own budget over the key's (team's) logs
            inner, _, inner_id = ident.partition(":")
            found = _owner_filter(inner, inner_id)
            if found is None:
                continue
            owner, duration = found, windows.budgets.get(scope)
        elif kind == "customer":
            owner, duration = SpendFilter(end_user=ident), windows.budgets.get(scope)
        elif kind == "key":
            row, owner = await database.keys.get(ident), SpendFilter(api_key=ident)
        elif kind == "team":
            row, owner = await database.teams.get(ident), SpendFilter(team_id=ident)
        elif kind == "user":
            row, owner = await database.users.get(ident), SpendFilter(user=ident)
        elif kind == "end_user":
            duration = windows.budgets.get(scope, end_user_budget)
            owner = SpendFilter(user=ident)
        else:
            continue
        if row is not None:
            duration = row.budget_duration
            if not duration:
                seeds[scope] = BudgetSeed(spent=row.spend)
                continue
        elif kind not in _MEMBER_FILTERS and kind != "plan":
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


async def _quota_seed(
    database: Database, scope: str, member: str, windows: PlanWindows, now: datetime, starts: dict[str, float]
) -> BudgetSeed:
    """The tokens a member's logs counted in their quota's current window."""
    kind, _, ident = member.partition(":")
    found = _owner_filter(kind, ident)
    if found is None:
        return BudgetSeed(0.0)
    duration, cache_reads = windows.quotas.get(scope, (None, True))
    owner = found
    reset_at = None
    if duration is not None:
        window = parse_duration(duration)
        began = window.window_start(now)
        starts[scope] = began.timestamp()
        owner = replace(owner, start=began)
        reset_at = window.next_reset(now).timestamp()
    totals = await database.spend.summarize_spend(owner)
    counted = totals.prompt_tokens + totals.completion_tokens
    if not cache_reads:
        counted -= totals.cache_read_tokens
    return BudgetSeed(spent=float(max(counted, 0)), reset_at=reset_at)


def _owner_filter(kind: str, ident: str) -> SpendFilter | None:
    """The logs of a plan's member: an end user's, a customer's, a key's or a team's."""
    if kind == "end_user":
        return SpendFilter(user=ident)
    if kind == "customer":
        return SpendFilter(end_user=ident)
    if kind == "key":
        return SpendFilter(api_key=ident)
    if kind == "team":
        return SpendFilter(team_id=ident)
    return None


def _plus(
    scope: str, seed: BudgetSeed, rows: list[Row], start: float | None, windows: PlanWindows | None = None
) -> BudgetSeed:
    """``seed`` plus the spend (or, for a quota, the tokens) of the unwritten rows of ``scope`` (in
    its window, if it has one)."""
    kind, _, ident = scope.partition(":")
    tokens = kind == "quota"
    cache_reads = True
    if tokens:
        cache_reads = True if windows is None else windows.quotas.get(scope, (None, True))[1]
    if tokens or kind == "plan":
        kind, _, ident = ident.partition(":")
    name = _OWNER_FIELDS.get(kind)
    if name is None:
        return seed
    extra = 0.0
    for row in rows:
        if row.get(name) != ident:
            continue
        began = row.get("start_time")
        if start is not None and isinstance(began, int | float) and began < start:
            continue
        extra += _row_tokens(row, cache_reads) if tokens else _number(row.get("spend"))
    return replace(seed, spent=seed.spent + extra) if extra else seed


def _row_tokens(row: Row, cache_reads: bool) -> float:
    counted = _number(row.get("prompt_tokens")) + _number(row.get("completion_tokens"))
    if not cache_reads:
        counted -= _number(row.get("cache_read_tokens"))
    return max(counted, 0.0)


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return 0.0
