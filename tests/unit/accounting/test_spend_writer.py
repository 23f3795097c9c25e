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


def test_flush_writes_the_queue_now(tmp_path: Path) -> None:
    """flush() writes queued records at once, without the background task or a full batch."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = SpendWriter(db.write, spool_path=tmp_path / "s.jsonl", batch_size=100, interval=30)
        for row in rows(3):
            writer.submit(row)
        await writer.flush()
        assert sorted(db.rows) == ["r0", "r1", "r2"] and writer.pending == 0

    asyncio.run(main())


def test_flush_replays_the_spool_without_waiting_out_the_retry_delay(tmp_path: Path) -> None:
    """After an outage, flush() tries the database again at once and empties the spool."""

    async def main() -> None:
        db = FlakyDatabase()
        spool = tmp_path / "s.jsonl"
        writer = SpendWriter(db.write, spool_path=spool, retry_interval=3600)
        db.down = True
        for row in rows(5):
            writer.submit(row)
        await writer.flush()
        assert spool.exists() and writer.spooled == 5 and db.rows == {}
        db.down = False
        for row in rows(2, start=5):
            writer.submit(row)
        await writer.flush()
        assert sorted(db.rows) == [f"r{i}" for i in range(7)] and not spool.exists()

    asyncio.run(main())


class RejectsOneRow(FlakyDatabase):
    """A database that refuses one row for its content (like a value too long for its column)."""

    async def write(self, batch: list[dict[str, Any]]) -> None:
        if any(row["request_id"] == "bad" for row in batch):
            raise ValueError("value too long for type character varying(255)")
        await super().write(batch)


def test_a_rejected_row_does_not_block_the_others(tmp_path: Path) -> None:
    """A row the database refuses (not an outage) is set aside; every other row is written."""

    async def main() -> None:
        db = RejectsOneRow()
        spool = tmp_path / "spool.jsonl"
        writer = SpendWriter(
            db.write, spool_path=spool, batch_size=10, is_outage=lambda exc: isinstance(exc, ConnectionError)
        )
        for row in [*rows(4), {"request_id": "bad"}, *rows(4, start=4)]:
            writer.submit(row)
        await writer.drain()
        assert sorted(db.rows) == sorted(f"r{i}" for i in range(8))
        assert not spool.exists()
        assert b'"bad"' in (tmp_path / "spool.rejected.jsonl").read_bytes()

    asyncio.run(main())


def test_a_torn_spool_line_is_set_aside(tmp_path: Path) -> None:
    """A line cut by a crash mid-append does not stop the replay of the others."""

    async def main() -> None:
        db = FlakyDatabase()
        spool = tmp_path / "spool.jsonl"
        spool.write_bytes(b'{"request_id": "r0", "spend": 0}\n{"request_id": "r1", "sp')
        writer = SpendWriter(db.write, spool_path=spool)
        writer.submit({"request_id": "r2", "spend": 0})
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r2"] and not spool.exists()
        assert b'"r1"' in (tmp_path / "spool.rejected.jsonl").read_bytes()

    asyncio.run(main())


def test_a_database_that_hangs_is_treated_as_down(tmp_path: Path) -> None:
    """A write that does not finish in write_timeout is spooled instead of blocking shutdown."""

    async def main() -> None:
        async def hangs(batch: list[dict[str, Any]]) -> None:
            await asyncio.Event().wait()

        spool = tmp_path / "spool.jsonl"
        writer = SpendWriter(hangs, spool_path=spool, write_timeout=0.05)
        for row in rows(3):
            writer.submit(row)
        await writer.drain()
        assert writer.spooled == 3 and len(spool.read_bytes().splitlines()) == 3

    asyncio.run(main())


def test_spools_of_dead_processes_are_adopted(tmp_path: Path) -> None:
    """A spool another (finished) process left behind is taken over and written."""

    async def main() -> None:
        db = FlakyDatabase()
        orphan = tmp_path / "spool-999.jsonl"
        orphan.write_bytes(b'{"request_id": "left-behind", "spend": 0}\n')
        writer = SpendWriter(db.write, spool_path=tmp_path / "spool-1.jsonl", orphans=lambda: [orphan])
        await writer.drain()
        assert list(db.rows) == ["left-behind"] and not orphan.exists()

    asyncio.run(main())


def test_a_record_submitted_after_the_drain_goes_to_the_spool(tmp_path: Path) -> None:
    """A request that ends after the shutdown drain is not lost in a queue nobody flushes."""

    async def main() -> None:
        db = FlakyDatabase()
        spool = tmp_path / "spool.jsonl"
        writer = SpendWriter(db.write, spool_path=spool)
        await writer.drain()
        writer.submit({"request_id": "late", "spend": 0})
        assert b'"late"' in spool.read_bytes()

    asyncio.run(main())
