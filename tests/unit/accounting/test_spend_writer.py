"""SpendWriter: batches off the request path, spools when the database is down, loses nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bastion.accounting.spend_writer import SpendWriter


class FlakyDatabase:
    """Stands in for the store's idempotent bulk insert; can be switched off like a dead database."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.down = False
        self.calls = 0

    async def write(self, batch: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("database unreachable")
        for row in batch:
            self.rows.setdefault(row["request_id"], row)


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"request_id": f"r{i}", "spend": 0.001} for i in range(start, start + n)]


def test_drain_writes_everything_in_batches(tmp_path: Path) -> None:
    """Queued records are written in batches of batch_size when drained."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = SpendWriter(db.write, spool_path=tmp_path / "spool.jsonl", batch_size=100)
        for row in rows(250):
            writer.submit(row)
        await writer.drain()
        assert len(db.rows) == 250 and db.calls == 3 and writer.pending == 0

    asyncio.run(main())


def test_outage_spools_then_replays_without_loss_or_duplicates(tmp_path: Path) -> None:
    """Records written while the database is down go to the spool and reach it once it is back."""

    async def main() -> None:
        db = FlakyDatabase()
        spool = tmp_path / "spool.jsonl"
        writer = SpendWriter(db.write, spool_path=spool, batch_size=50, retry_interval=0)
        db.down = True
        for row in rows(120):
            writer.submit(row)
        await writer.drain()
        assert db.rows == {} and spool.exists() and writer.spooled == 120
        db.down = False
        again = SpendWriter(db.write, spool_path=spool, batch_size=50)
        for row in rows(10, start=120):
            again.submit(row)
        await again.drain()
        assert sorted(db.rows) == sorted(f"r{i}" for i in range(130))
        assert not spool.exists()

    asyncio.run(main())


def test_background_task_writes_without_drain(tmp_path: Path) -> None:
    """Once started, the writer flushes a full batch on its own."""

    async def main() -> None:
        db = FlakyDatabase()
        written = asyncio.Event()

        async def write(batch: list[dict[str, Any]]) -> None:
            await db.write(batch)
            written.set()

        writer = SpendWriter(write, spool_path=tmp_path / "s.jsonl", batch_size=10, interval=30)
        writer.start()
        for row in rows(10):
            writer.submit(row)
        await asyncio.wait_for(written.wait(), 5)
        assert len(db.rows) == 10
        await writer.drain()

    asyncio.run(main())


def test_partial_replay_keeps_the_rest(tmp_path: Path) -> None:
    """If the database fails in the middle of a replay, the unwritten records stay spooled."""

    async def main() -> None:
        db = FlakyDatabase()
        spool = tmp_path / "spool.jsonl"
        writer = SpendWriter(db.write, spool_path=spool, batch_size=10, retry_interval=0)
        db.down = True
        for row in rows(30):
            writer.submit(row)
        await writer.drain()
        calls = 0

        async def fails_on_second(batch: list[dict[str, Any]]) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectionError("dropped again")
            await FlakyDatabase.write(db, batch)

        db.down = False
        second = SpendWriter(fails_on_second, spool_path=spool, batch_size=10, retry_interval=0)
        await second.drain()
        assert len(db.rows) == 10 and spool.exists()
        third = SpendWriter(db.write, spool_path=spool, batch_size=10)
        await third.drain()
        assert len(db.rows) == 30 and not spool.exists()

    asyncio.run(main())
