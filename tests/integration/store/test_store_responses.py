"""Stored responses under concurrency: group-committed saves all land, each readable (from another
engine, as another process would read it) the moment its save returns; a failing batch fails each
of its callers, and a row the database refuses fails only its own save."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import event, text
from store_backends import Backend

from bastion import tasks
from bastion.store import Database
from bastion.store._transactions import writing
from bastion.store.responses import StoredResponseRow

SAVES = 120


_NOW = datetime.now(UTC).replace(microsecond=123456)


def _row(n: int, *, owner: str = "key:abc") -> StoredResponseRow:
    now = _NOW
    return StoredResponseRow(
        response_id=f"resp_{n:04d}",
        owner=owner,
        model="claude",
        status="completed",
        body=orjson.dumps({"id": f"resp_{n:04d}", "output": [{"text": f"caf\u00e9 \u0000 {n}"}]}).decode(),
        input=f'[{{"role": "user", "content": "question {n}"}}]',
        created_at=now,
        expires_at=now + timedelta(days=30),
    )


def test_concurrent_saves_all_land_and_are_readable_as_each_returns(backend: Backend) -> None:
    async def scenario(db: Database) -> tuple[list[str], int, list[StoredResponseRow | None]]:
        commits = 0

        def count(_conn: object) -> None:
            nonlocal commits
            commits += 1

        event.listen(db.engine.sync_engine, "commit", count)
        # A second engine on the same database: what another gateway process would see.
        other = await Database.open(backend.url, default_path=backend.default_path, migrate=False)
        missing: list[str] = []
        try:

            async def save_then_read(n: int) -> None:
                row = _row(n)
                await db.responses.save(row)
                if await other.responses.get(row.response_id) != row:
                    missing.append(row.response_id)

            await db.responses.save(_row(0, owner="key:old"))  # replaced by the concurrent save of 0
            before = commits
            await asyncio.gather(*(save_then_read(n) for n in range(SAVES)))
            batched = commits - before
            rows = [await other.responses.get(f"resp_{n:04d}") for n in range(SAVES)]
        finally:
            await other.close()
        return missing, batched, rows

    missing, commits, rows = backend.run(scenario)
    assert missing == []
    assert rows == [_row(n) for n in range(SAVES)]
    assert commits < SAVES // 2  # gathered into shared transactions, not one each


def test_a_failing_batch_fails_each_of_its_callers(backend: Backend) -> None:
    async def scenario(db: Database) -> list[BaseException | None]:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE responses"))
        return await asyncio.gather(*(db.responses.save(_row(n)) for n in range(20)), return_exceptions=True)

    outcomes = backend.run(scenario)
    assert len(outcomes) == 20
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes


def test_a_refused_row_fails_only_its_own_save(backend: Backend) -> None:
    async def scenario(db: Database) -> tuple[list[BaseException | None], list[bool]]:
        rows = [_row(n) for n in range(10)]
        rows[4] = dataclasses.replace(rows[4], owner=None)  # type: ignore[arg-type]  # NOT NULL
        outcomes = await asyncio.gather(*(db.responses.save(row) for row in rows), return_exceptions=True)
        found = [await db.responses.get(row.response_id) is not None for row in rows]
        return outcomes, found

    outcomes, found = backend.run(scenario)
    assert [isinstance(o, Exception) for o in outcomes] == [n == 4 for n in range(10)]
    assert found == [n != 4 for n in range(10)]


def test_reads_do_not_wait_for_a_write_in_flight(backend: Backend) -> None:
    """While another transaction holds the table against writes, a save waits and a get answers."""

    async def scenario(db: Database) -> tuple[StoredResponseRow | None, bool, StoredResponseRow | None]:
        await db.responses.save(_row(1))
        async with writing(db.engine) as blocker:  # SQLite: BEGIN IMMEDIATE takes the write lock
            if backend.name == "postgresql":  # blocks the batch's DELETE, not reads
                await blocker.execute(text("LOCK TABLE responses IN SHARE MODE"))
            saving = tasks.spawn_awaited(db.responses.save(_row(2)), name="save")
            read = await db.responses.get("resp_0001")
            waited = not saving.done()
        await saving
        return read, waited, await db.responses.get("resp_0002")

    read, waited, saved = backend.run(scenario)
    assert read == _row(1) and waited
    assert saved == _row(2)
