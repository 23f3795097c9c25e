"""Spend logs in the store: batch inserts are idempotent and keep totals equal to the logs."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from store_backends import Backend

import bastion.store.spend as spend_store
from bastion.store import Database, KeyRecord, SpendFilter, SpendLogRecord, TeamRecord, UserRecord

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
KEYS = [hashlib.sha256(f"sk-{i}".encode()).hexdigest() for i in range(3)]
TEAMS = ["org-a", "org-b"]
USERS = ["u-a", "u-b"]


def log(n: int, *, spend: float | None = None, api_key: str | None = None, **fields: Any) -> SpendLogRecord:
    """A log whose owners and cost follow from ``n`` (the same ``n`` always gives the same cost)."""
    values: dict[str, Any] = {
        "team_id": TEAMS[n % 2],
        "user": USERS[(n // 2) % 2],
        "end_user": f"end-{n % 4}",
        "model_group": "gpt" if n % 3 else "claude",
        "prompt_tokens": 10 + n,
        "completion_tokens": 5,
        "total_tokens": 15 + n,
    }
    values.update(fields)
    cost = spend if spend is not None else random.Random(n).uniform(0.000001, 0.05)
    return SpendLogRecord(
        request_id=f"req-{n:05d}",
        api_key=api_key if api_key is not None else KEYS[n % 3],
        start_time=NOW + timedelta(seconds=n),
        spend=cost,
        **values,
    )


async def seed_owners(db: Database) -> None:
    for team in TEAMS:
        await db.teams.create(TeamRecord(team))
    for user in USERS:
        await db.users.create(UserRecord(user))
    for i, token in enumerate(KEYS):
        await db.keys.create(KeyRecord(token, f"sk-...{i}", team_id=TEAMS[i % 2]))


async def totals_and_sums(db: Database) -> list[tuple[float, float]]:
    """(row spend, sum of its logs) for every key, user and team."""
    pairs = []
    for token in KEYS:
        row = await db.keys.get(token)
        assert row is not None
        pairs.append((row.spend, (await db.spend.summarize_spend(SpendFilter(api_key=token))).spend))
    for user in USERS:
        user_row = await db.users.get(user)
        assert user_row is not None
        pairs.append((user_row.spend, (await db.spend.summarize_spend(SpendFilter(user=user))).spend))
    for team in TEAMS:
        team_row = await db.teams.get(team)
        assert team_row is not None
        pairs.append((team_row.spend, (await db.spend.summarize_spend(SpendFilter(team_id=team))).spend))
    return pairs


def test_batch_insert_adds_exactly_the_batch_cost(backend: Backend) -> None:
    """After one batch every key, user and team spend equals the sum of its logs."""
    batch = [log(n) for n in range(60)]

    async def scenario(db: Database) -> tuple[int, list[tuple[float, float]], float]:
        await seed_owners(db)
        inserted = await db.spend.insert_spend_logs(batch)
        key0 = await db.keys.get(KEYS[0])
        assert key0 is not None
        return inserted, await totals_and_sums(db), key0.spend

    inserted, pairs, key0_spend = backend.run(scenario)
    assert inserted == 60
    assert all(backend.same_money(total, summed) for total, summed in pairs), pairs
    expected = sum(r.spend for r in batch if r.api_key == KEYS[0])
    assert abs(key0_spend - expected) < 1e-9


def test_duplicate_request_ids_are_not_counted_twice(backend: Backend) -> None:
    """A retried batch, and a repeat inside one batch, add nothing and store nothing."""

    async def scenario(db: Database) -> tuple[list[int], int, float, list[tuple[float, float]]]:
        await seed_owners(db)
        first = await db.spend.insert_spend_logs([log(n, spend=1.0) for n in range(6)])
        retried = await db.spend.insert_spend_logs([log(n, spend=1.0) for n in range(6)])
        mixed = await db.spend.insert_spend_logs([log(5, spend=1.0), log(6, spend=1.0), log(6, spend=1.0)])
        totals = await db.spend.summarize_spend()
        key0 = await db.keys.get(KEYS[0])
        assert key0 is not None
        return [first, retried, mixed], totals.requests, key0.spend, await totals_and_sums(db)

    counts, requests, key0_spend, pairs = backend.run(scenario)
    assert counts == [6, 0, 1] and requests == 7
    assert key0_spend == 3.0  # req 0, 3 and 6
    assert all(backend.same_money(total, summed) for total, summed in pairs), pairs


def test_a_new_batch_is_inserted_without_returning_rows(backend: Backend) -> None:
    """The common case (every record new) sends inserts that return nothing and reads no
    spend log first; only a batch with records stored before is written a second time, with the
    insert that returns the new ids (and its totals stay exact, as above)."""
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    async def scenario(db: Database) -> tuple[list[str], list[str], int]:
        await seed_owners(db)
        event.listen(db.engine.sync_engine, "before_cursor_execute", note)
        await db.spend.insert_spend_logs([log(n) for n in range(100)])
        fresh = list(statements)
        statements.clear()
        inserted = await db.spend.insert_spend_logs([log(n) for n in range(99, 105)])
        return fresh, list(statements), inserted

    fresh, replayed, inserted = backend.run(scenario)
    inserts = [s for s in fresh if s.startswith("INSERT INTO")]
    # One insert per slice of rows (the event loop serves requests between them).
    assert len(inserts) == -(-100 // spend_store._SLICE) > 1, fresh
    assert not [s for s in inserts if "RETURNING" in s], fresh
    assert not [s for s in fresh if s.startswith("SELECT") and "FROM spend_logs" in s], fresh
    # The replay: the insert that skipped req-00099 is rolled back, then the batch goes again.
    assert inserted == 5
    assert len([s for s in replayed if s.startswith("INSERT INTO")]) == 2, replayed


def test_a_large_batch_lets_other_tasks_run_between_its_slices(backend: Backend) -> None:
    """A batch's rows go in slices, with the event loop free between them: other tasks (requests
    being served) run between every two inserts, not only after the whole batch."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("INSERT INTO"):
            seen.append("insert")

    async def scenario(db: Database) -> int:
        await seed_owners(db)
        event.listen(db.engine.sync_engine, "before_cursor_execute", note)
        done = False

        async def other_task() -> None:
            while not done:
                seen.append("other")
                await asyncio.sleep(0)

        running = asyncio.ensure_future(other_task())
        try:
            return await db.spend.insert_spend_logs([log(n) for n in range(100)])
        finally:
            done = True
            await running

    assert backend.run(scenario) == 100
    inserts = [n for n, what in enumerate(seen) if what == "insert"]
    assert len(inserts) == -(-100 // spend_store._SLICE)
    assert all("other" in seen[a:b] for a, b in itertools.pairwise(inserts)), seen


def test_concurrent_batches_keep_totals_equal_to_logs(backend: Backend) -> None:
    """Eight writers with overlapping batches: every log stored once, totals equal the logs."""
    rng = random.Random(7)
    batches = [[log(rng.randrange(400)) for _ in range(25)] for _ in range(24)]
    unique = {r.request_id for batch in batches for r in batch}

    async def scenario(db: Database) -> tuple[int, int, list[tuple[float, float]]]:
        await seed_owners(db)

        async def writer(mine: list[list[SpendLogRecord]]) -> int:
            return sum([await db.spend.insert_spend_logs(batch) for batch in mine])

        counts = await asyncio.gather(*(writer(batches[i::8]) for i in range(8)))
        stored = (await db.spend.summarize_spend()).requests
        return sum(counts), stored, await totals_and_sums(db)

    inserted, stored, pairs = backend.run(scenario)
    assert inserted == stored == len(unique)
    assert all(backend.same_money(total, summed) for total, summed in pairs), pairs


def test_logs_of_unknown_owners_are_stored_without_totals(backend: Backend) -> None:
    """A log for a key, user or team without a row (master key, a session id) is still kept."""

    async def scenario(db: Database) -> tuple[int, int]:
        record = log(1, api_key="f" * 64, user="session-9", team_id=None)
        inserted = await db.spend.insert_spend_logs([record, log(2, api_key="")])
        return inserted, (await db.spend.summarize_spend()).requests

    assert backend.run(scenario) == (2, 2)


def test_regenerated_key_keeps_its_logs_and_late_records(backend: Backend) -> None:
    """Logs move to the new token, and a late record with the old token lands on the key."""
    old, new = KEYS[0], hashlib.sha256(b"sk-regen").hexdigest()

    async def scenario(db: Database) -> tuple[float, int, int, float]:
        await seed_owners(db)
        await db.spend.insert_spend_logs([log(0, spend=1.0), log(3, spend=2.0)])
        await db.keys.regenerate(old, new_token=new, new_key_name="sk-...gen")
        await db.spend.insert_spend_logs([log(6, spend=4.0, api_key=old)])
        key_row = await db.keys.get(new)
        assert key_row is not None
        by_new = await db.spend.summarize_spend(SpendFilter(api_key=new))
        by_old = await db.spend.summarize_spend(SpendFilter(api_key=old))
        return key_row.spend, by_new.requests, by_old.requests, by_new.spend

    assert backend.run(scenario) == (7.0, 3, 0, 7.0)


def test_query_filters_time_range_and_pages(backend: Backend) -> None:
    """Filters combine; the range is [start, end); pages are newest first."""

    async def scenario(db: Database) -> list[list[str]]:
        await seed_owners(db)
        await db.spend.insert_spend_logs([log(n, metadata={"n": n}) for n in range(30)])
        window = SpendFilter(start=NOW + timedelta(seconds=10), end=NOW + timedelta(seconds=20))
        in_window = await db.spend.query_spend_logs(window, limit=100)
        page_2 = await db.spend.query_spend_logs(SpendFilter(api_key=KEYS[1]), limit=3, offset=3)
        combined = await db.spend.query_spend_logs(
            SpendFilter(team_id="org-a", user="u-b", model_group="claude", end_user="end-2")
        )
        one = await db.spend.query_spend_logs(SpendFilter(request_id="req-00004"))
        return [[r.request_id for r in rows] for rows in (in_window, page_2, combined, one)]

    in_window, page_2, combined, one = backend.run(scenario)
    assert in_window == [f"req-{n:05d}" for n in range(19, 9, -1)]
    assert page_2 == ["req-00019", "req-00016", "req-00013"]
    # team org-a: even n; user u-b: n // 2 odd; claude: n % 3 == 0; end-2: n % 4 == 2
    assert combined == [
        f"req-{n:05d}" for n in range(29, -1, -1) if n % 2 == 0 and (n // 2) % 2 and n % 3 == 0 and n % 4 == 2
    ]
    assert one == ["req-00004"]


def test_log_fields_round_trip(backend: Backend) -> None:
    """Every field of a log reads back as written, timestamps aware and in UTC."""
    record = log(
        42,
        spend=0.0123456789,
        deployment_id="dep-1",
        custom_llm_provider="anthropic",
        model="claude-sonnet-4-5-20250929",
        cache_read_tokens=3,
        cache_write_tokens=2,
        reasoning_tokens=1,
        status="failure",
        http_status=429,
        end_time=NOW + timedelta(seconds=45),
        completion_start_time=NOW + timedelta(seconds=43),
        cache_hit=True,
        usage_estimated=True,
        client_disconnected=True,
        metadata={"key_alias": "k", "tags": ["a"]},
    )

    async def scenario(db: Database) -> list[SpendLogRecord]:
        await db.spend.insert_spend_logs([record])
        return await db.spend.query_spend_logs()

    assert backend.run(scenario) == [record]


def test_spend_grouped_by_team_model_and_key(backend: Backend) -> None:
    """spend_by sums requests, tokens and cost per group, the largest spend first, within the filter."""
    batch = [log(n, spend=0.01 * (n + 1)) for n in range(6)]

    async def scenario(db: Database) -> tuple[Any, ...]:
        await seed_owners(db)
        await db.spend.insert_spend_logs(batch)
        by_team = await db.spend.spend_by("team")
        by_model = await db.spend.spend_by("model", SpendFilter(team_id="org-a"))
        top_key = await db.spend.spend_by("key", limit=1)
        return by_team, by_model, top_key

    by_team, by_model, top_key = backend.run(scenario)
    # n = 0..5, spend 0.01*(n+1); org-a has even n (0.01+0.03+0.05), org-b odd n (0.02+0.04+0.06).
    assert [(g.group, g.requests) for g in by_team] == [("org-b", 3), ("org-a", 3)]
    assert by_team[0].spend == pytest.approx(0.12) and by_team[1].spend == pytest.approx(0.09)
    assert by_team[1].prompt_tokens == 10 * 3 + (0 + 2 + 4) and by_team[1].completion_tokens == 15
    # org-a: n=0 claude (0.01), n=2 gpt (0.03), n=4 gpt (0.05).
    assert [(g.group, g.requests) for g in by_model] == [("gpt", 2), ("claude", 1)]
    assert by_model[0].spend == pytest.approx(0.08)
    # Keys: n%3 -> key 2 has n=2,5 (0.03+0.06): the largest.
    assert [(g.group, g.requests) for g in top_key] == [(KEYS[2], 2)]


def test_spend_rows_round_trip_exactly_at_any_batch_size(backend: Backend) -> None:
    """The spend writer's rows (times as Unix seconds) are stored to the microsecond, through the
    one fixed statement, whatever the batch size."""
    moments = [NOW + timedelta(seconds=n, microseconds=(n * 104_729) % 1_000_000) for n in range(40)]

    def row(n: int) -> dict[str, Any]:
        values = asdict(log(n))
        values["start_time"] = moments[n].timestamp()
        values["end_time"] = moments[n].timestamp() + 0.5
        values["completion_start_time"] = None if n % 2 else moments[n]
        values["metadata"] = {"surface": "openai", "n": n}
        return values

    async def scenario(db: Database) -> tuple[list[int], list[SpendLogRecord]]:
        await seed_owners(db)
        counts = []
        start = 0
        for size in (1, 7, 2, 13, 1, 16):
            counts.append(await db.spend.insert_spend_rows([row(n) for n in range(start, start + size)]))
            start += size
        return counts, await db.spend.query_spend_logs(limit=100)

    counts, stored = backend.run(scenario)
    assert counts == [1, 7, 2, 13, 1, 16]
    by_id = {record.request_id: record for record in stored}
    for n in range(40):
        record = by_id[f"req-{n:05d}"]
        assert record.start_time == moments[n]
        assert record.end_time == moments[n] + timedelta(seconds=0.5)
        assert record.completion_start_time == (None if n % 2 else moments[n])
        assert record.metadata == {"surface": "openai", "n": n}
