"""SpendWriter: journals every row, writes batches off the request path, keeps them through outages."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from bastion.accounting.spend_journal import JOURNAL_DIR, SpendJournal, read_segment
from bastion.accounting.spend_writer import SpendWriter
from bastion.observability.metrics import Metrics


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


def writer_for(tmp_path: Path, write: Any, *, durable: bool = True, **options: Any) -> SpendWriter:
    options.setdefault("is_outage", lambda exc: isinstance(exc, ConnectionError))
    return SpendWriter(write, journal=SpendJournal(tmp_path, durable=durable), **options)


def segments(tmp_path: Path) -> list[Path]:
    """Every journal segment on disk, of any process."""
    return sorted((tmp_path / JOURNAL_DIR).glob("*/*.jsonl"))


def journaled_ids(tmp_path: Path) -> set[str]:
    """The request ids in every segment on disk (read as a new process would)."""
    return {row["request_id"] for path in segments(tmp_path) for row in read_segment(path)[0]}


def test_a_submitted_row_is_on_disk_before_submit_returns(tmp_path: Path) -> None:
    """submit() writes the row to the journal at once: a process killed right after loses nothing."""
    writer = writer_for(tmp_path, FlakyDatabase().write)
    writer.submit({"request_id": "answered", "spend": 0.5})
    assert journaled_ids(tmp_path) == {"answered"}


def test_drain_writes_everything_in_batches_and_empties_the_journal(tmp_path: Path) -> None:
    """Queued rows are written in batches of batch_size; written segments are deleted."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, batch_size=100)
        for row in rows(250):
            writer.submit(row)
        await writer.drain()
        assert len(db.rows) == 250 and db.calls == 3 and writer.pending == 0
        assert not (tmp_path / JOURNAL_DIR).exists() or not any((tmp_path / JOURNAL_DIR).iterdir())

    asyncio.run(main())


def test_the_journal_of_a_killed_process_is_replayed_by_the_next(tmp_path: Path) -> None:
    """Rows journaled by a process that died before writing them reach the database at the next
    start, once each, even those the dead process had already written."""

    async def main() -> None:
        db = FlakyDatabase()
        dead = writer_for(tmp_path, db.write)
        for row in rows(5):
            dead.submit(row)
        await dead.flush()  # r0..r4 written, but the process dies before deleting nothing else...
        for row in rows(5, start=5):
            dead.submit(row)
        dead.journal.close()  # ...and is killed here: its lock goes with it
        assert journaled_ids(tmp_path) == {f"r{i}" for i in range(5, 10)}
        db.calls = 0
        again = writer_for(tmp_path, db.write)
        again.start()
        await again.drain()
        assert sorted(db.rows) == sorted(f"r{i}" for i in range(10)) and segments(tmp_path) == []

    asyncio.run(main())


def test_a_live_processs_journal_is_not_adopted(tmp_path: Path) -> None:
    """Another running process's segments are left alone: it holds their lock."""

    async def main() -> None:
        db = FlakyDatabase()
        alive = writer_for(tmp_path, db.write)
        alive.submit({"request_id": "mine", "spend": 0})
        other = writer_for(tmp_path, db.write)
        await other.drain()
        assert db.rows == {} and journaled_ids(tmp_path) == {"mine"}
        await alive.drain()
        assert list(db.rows) == ["mine"]

    asyncio.run(main())


def test_outage_keeps_rows_on_disk_only_then_replays_them(tmp_path: Path) -> None:
    """While the database is down, rows leave memory for the backlog on disk; once it is back
    they are written once each."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, batch_size=50, retry_interval=3600)
        db.down = True
        for row in rows(120):
            writer.submit(row)
        await writer.flush()
        assert db.rows == {} and writer.pending == 0 and writer.spooled == 120 and writer.backlog
        for row in rows(10, start=120):
            writer.submit(row)
        await writer.drain()  # still down: left in the journal for the next start
        assert journaled_ids(tmp_path) == {f"r{i}" for i in range(130)}
        db.down = False
        again = writer_for(tmp_path, db.write, batch_size=50)
        await again.drain()
        assert sorted(db.rows) == sorted(f"r{i}" for i in range(130)) and segments(tmp_path) == []

    asyncio.run(main())


@pytest.mark.parametrize("durable", [True, False])
def test_flush_replays_the_backlog_without_waiting_out_the_retry_delay(tmp_path: Path, durable: bool) -> None:
    """After an outage, flush() tries the database again at once; without the journal too, rows
    of an outage are spooled to disk."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, retry_interval=3600, durable=durable)
        db.down = True
        for row in rows(5):
            writer.submit(row)
        await writer.flush()
        assert (
            writer.spooled == 5 and db.rows == {} and journaled_ids(tmp_path) == {f"r{i}" for i in range(5)}
        )
        db.down = False
        for row in rows(2, start=5):
            writer.submit(row)
        await writer.flush()
        assert sorted(db.rows) == [f"r{i}" for i in range(7)] and writer.backlog == []
        await writer.drain()
        assert segments(tmp_path) == []

    asyncio.run(main())


def test_without_the_journal_nothing_is_written_per_request(tmp_path: Path) -> None:
    """spend_journal: false (to measure its cost) keeps rows in memory until written."""
    writer = writer_for(tmp_path, FlakyDatabase().write, durable=False)
    writer.submit({"request_id": "r", "spend": 0})
    assert segments(tmp_path) == [] and writer.pending == 1


def test_partial_replay_keeps_the_rest(tmp_path: Path) -> None:
    """If the database fails in the middle of a replay, the unwritten rows stay in the backlog."""

    async def main() -> None:
        db = FlakyDatabase()
        first = writer_for(tmp_path, db.write, batch_size=10)
        db.down = True
        for row in rows(30):
            first.submit(row)
        await first.drain()
        calls = 0

        async def fails_on_second(batch: list[dict[str, Any]]) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise ConnectionError("dropped again")
            await FlakyDatabase.write(db, batch)

        db.down = False
        second = writer_for(tmp_path, fails_on_second, batch_size=10)
        await second.drain()
        assert len(db.rows) == 10 and segments(tmp_path)
        third = writer_for(tmp_path, db.write, batch_size=10)
        await third.drain()
        assert len(db.rows) == 30 and segments(tmp_path) == []

    asyncio.run(main())


def test_background_task_writes_without_drain(tmp_path: Path) -> None:
    """Once started, the writer flushes a full batch on its own."""

    async def main() -> None:
        db = FlakyDatabase()
        written = asyncio.Event()

        async def write(batch: list[dict[str, Any]]) -> None:
            await db.write(batch)
            written.set()

        writer = writer_for(tmp_path, write, batch_size=10, interval=30)
        writer.start()
        for row in rows(10):
            writer.submit(row)
        await asyncio.wait_for(written.wait(), 5)
        assert len(db.rows) == 10
        await writer.drain()

    asyncio.run(main())


class RefusesContent(FlakyDatabase):
    """A database that refuses rows carrying a NUL in ``end_user`` (as PostgreSQL does)."""

    def __init__(self, *, refuse_reduced: bool = False) -> None:
        super().__init__()
        self.refuse_reduced = refuse_reduced

    async def write(self, batch: list[dict[str, Any]]) -> None:
        for row in batch:
            if "\x00" in (row.get("end_user") or "") or (self.refuse_reduced and row["request_id"] == "bad"):
                raise ValueError("invalid byte sequence for encoding UTF8: 0x00")
        await super().write(batch)


def test_a_refused_row_is_stored_reduced_and_counted(tmp_path: Path) -> None:
    """A row the database refuses (not an outage) is stored with only Bastion's own values, so its
    cost still counts; the others are written; it is logged and counted in a metric."""

    async def main() -> None:
        db = RefusesContent()
        metrics = Metrics()
        writer = writer_for(tmp_path, db.write, batch_size=10, metrics=metrics)
        bad = {"request_id": "bad", "spend": 0.25, "api_key": "k", "end_user": "x\x00y"}
        for row in [*rows(4), bad, *rows(4, start=4)]:
            writer.submit(row)
        await writer.drain()
        assert sorted(db.rows) == sorted(["bad", *(f"r{i}" for i in range(8))])
        stored = db.rows["bad"]
        assert stored["spend"] == 0.25 and stored["api_key"] == "k" and stored.get("end_user") is None
        assert stored["metadata"] == {"reduced": True} and writer.reduced == 1
        assert b'"bad"' in (tmp_path / JOURNAL_DIR / "rejected.jsonl").read_bytes()
        assert b'bastion_spend_rows_rejected_total{outcome="reduced"} 1.0' in metrics.render()

    asyncio.run(main())


def test_a_row_refused_even_reduced_is_set_aside_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If even the reduced row is refused, it is kept in rejected.jsonl with an error line."""

    async def main() -> None:
        db = RefusesContent(refuse_reduced=True)
        metrics = Metrics()
        writer = writer_for(tmp_path, db.write, metrics=metrics)
        for row in [{"request_id": "bad", "spend": 1.0}, *rows(3)]:
            writer.submit(row)
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r1", "r2"] and writer.set_aside == 1
        assert b'bastion_spend_rows_rejected_total{outcome="set_aside"} 1.0' in metrics.render()

    asyncio.run(main())
    assert any("NOT in the spend totals" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_a_torn_journal_line_is_set_aside(tmp_path: Path) -> None:
    """A line cut by a kill mid-append does not stop the replay of the others."""

    async def main() -> None:
        db = FlakyDatabase()
        dead = SpendJournal(tmp_path)
        dead.append({"request_id": "r0", "spend": 0})
        [segment] = dead.seal()
        dead.close()  # it is gone; its lock is free
        with segment.open("ab") as out:
            out.write(b'{"request_id": "r1", "sp')
        writer = writer_for(tmp_path, db.write)
        writer.submit({"request_id": "r2", "spend": 0})
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r2"] and segments(tmp_path) == []
        assert b'"r1"' in (tmp_path / JOURNAL_DIR / "rejected.jsonl").read_bytes()

    asyncio.run(main())


def test_a_database_that_hangs_is_treated_as_down(tmp_path: Path) -> None:
    """A write that does not finish in write_timeout leaves the rows on disk instead of blocking."""

    async def main() -> None:
        async def hangs(batch: list[dict[str, Any]]) -> None:
            await asyncio.Event().wait()

        writer = writer_for(tmp_path, hangs, write_timeout=0.05)
        for row in rows(3):
            writer.submit(row)
        await writer.drain()
        assert writer.spooled == 3 and journaled_ids(tmp_path) == {"r0", "r1", "r2"}

    asyncio.run(main())


def test_spool_files_of_older_versions_are_adopted(tmp_path: Path) -> None:
    """A spool file a finished process of an older Bastion left behind is taken over and written."""

    async def main() -> None:
        db = FlakyDatabase()
        orphan = tmp_path / "bastion-spend-spool-999999999.jsonl"
        orphan.write_bytes(b'{"request_id": "left-behind", "spend": 0}\n')
        writer = writer_for(tmp_path, db.write)
        await writer.drain()
        assert list(db.rows) == ["left-behind"] and not orphan.exists()

    asyncio.run(main())


def test_a_row_submitted_after_the_drain_stays_in_the_journal(tmp_path: Path) -> None:
    """A request that ends after the shutdown drain is not lost in a queue nobody flushes."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write)
        await writer.drain()
        writer.submit({"request_id": "late", "spend": 0})
        assert journaled_ids(tmp_path) == {"late"}
        writer.journal.close()
        again = writer_for(tmp_path, db.write)
        await again.drain()
        assert list(db.rows) == ["late"]

    asyncio.run(main())


def test_unwritten_rows_are_reported_with_a_consistent_read(tmp_path: Path) -> None:
    """with_unwritten() gives the queued rows and the backlog's, with no write in between."""

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, retry_interval=3600)
        db.down = True
        for row in rows(3):
            writer.submit(row)
        await writer.flush()  # to the backlog
        writer.submit({"request_id": "queued", "spend": 0})

        async def read() -> int:
            return len(db.rows)

        stored, unwritten = await writer.with_unwritten(read)
        assert stored == 0 and sorted(r["request_id"] for r in unwritten) == ["queued", "r0", "r1", "r2"]

    asyncio.run(main())


def test_a_full_disk_does_not_fail_the_request(tmp_path: Path) -> None:
    """A journal that cannot be written is reported; the row is still queued for the database."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data directory should be")
    metrics = Metrics()
    writer = SpendWriter(FlakyDatabase().write, journal=SpendJournal(blocked), metrics=metrics)
    writer.submit({"request_id": "r", "spend": 0})
    assert writer.pending == 1 and writer.journal.failures == 1
    assert b"bastion_spend_journal_errors_total 1.0" in metrics.render()


def test_rows_submitted_while_an_outage_spools_are_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request recorded while the writer fsyncs the backlog stays queued, and is written later."""
    import bastion.accounting.spend_writer as module

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, retry_interval=3600)
        real = asyncio.to_thread

        async def to_thread(func: Any, *args: Any) -> Any:
            writer.submit({"request_id": "during", "spend": 0})  # a request ends meanwhile
            return await real(func, *args)

        monkeypatch.setattr(module.asyncio, "to_thread", to_thread)
        db.down = True
        writer.submit({"request_id": "before", "spend": 0})
        await writer.flush()
        monkeypatch.setattr(module.asyncio, "to_thread", real)
        db.down = False
        await writer.drain()
        assert sorted(db.rows) == ["before", "during"]

    asyncio.run(main())


def test_an_unwritable_data_directory_does_not_stop_the_writer(tmp_path: Path) -> None:
    """start() and drain() go on (and rows reach the database) when the journal cannot be opened."""

    async def main() -> None:
        blocked = tmp_path / "not-a-dir"
        blocked.write_text("a file where the data directory should be")
        db = FlakyDatabase()
        writer = SpendWriter(db.write, journal=SpendJournal(blocked))
        writer.start()
        writer.submit({"request_id": "r", "spend": 0})
        await writer.drain()
        assert list(db.rows) == ["r"]

    asyncio.run(main())


def test_a_segment_left_mid_write_is_read_up_to_its_last_row(tmp_path: Path) -> None:
    """A process killed while appending leaves its preallocated segment full size (zeros after the
    last row): the next start reads every row in it."""

    async def main() -> None:
        dead = SpendJournal(tmp_path)
        for row in rows(3):
            dead.append(row)
        [segment] = segments(tmp_path)
        assert segment.stat().st_size > 1000  # preallocated, not cut to its rows
        assert dead._lock_fd is not None
        os.close(dead._lock_fd)  # the process is gone: its lock with it, its mapping left as is
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write)
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r1", "r2"]

    asyncio.run(main())


def test_full_segments_roll_over_without_losing_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows that do not fit the preallocated segment go to the next one; every row is written, and
    a row larger than a segment gets one of its own."""
    import bastion.accounting.spend_journal as journal

    monkeypatch.setattr(journal, "SEGMENT_BYTES", 200)

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write)
        for row in [*rows(50), {"request_id": "big", "spend": 0, "end_user": "x" * 1000}]:
            writer.submit(row)
        assert len(segments(tmp_path)) > 10
        await writer.drain()
        assert len(db.rows) == 51 and segments(tmp_path) == []

    asyncio.run(main())


def test_the_next_segment_is_made_before_the_request_that_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a flush, the segment the next row goes to already exists (made in a worker thread,
    off the request path): an append right after a seal creates no file, so a disk that cannot
    allocate one at that moment costs no row."""
    import bastion.accounting.spend_journal as journal

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write)
        writer.start()
        writer.submit({"request_id": "r0", "spend": 0})
        await writer.flush()  # seals r0's segment, deletes it once written, makes the next one

        def no_space(*_args: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(journal.os, "posix_fallocate", no_space)
        writer.submit({"request_id": "r1", "spend": 0})
        assert writer.journal.failures == 0
        assert journaled_ids(tmp_path) == {"r1"}
        monkeypatch.undo()
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r1"] and segments(tmp_path) == []

    asyncio.run(main())


def test_segments_holding_rows_are_closed_in_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sealing on the event loop only swaps segments; closing one (unmap, cut to its rows: system
    calls that can block when the disk is busy) happens in the journal's upkeep, in another thread."""
    import threading

    import bastion.accounting.spend_journal as journal

    closed_on: list[bool] = []
    close = journal._Segment.close

    def noting(segment: Any) -> None:
        if segment.rows:
            closed_on.append(threading.current_thread() is threading.main_thread())
        close(segment)

    monkeypatch.setattr(journal._Segment, "close", noting)

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write)
        writer.start()
        for n in range(3):
            writer.submit({"request_id": f"r{n}", "spend": 0})
            await writer.flush()
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r1", "r2"] and segments(tmp_path) == []

    asyncio.run(main())
    assert closed_on == [False, False, False]


def test_rows_are_prepared_after_the_turn_that_submitted_them(tmp_path: Path) -> None:
    """``prepare`` (the app's cleaning) runs on each row in the event loop's next turn, not in
    submit (before the answer) nor a batch at a time in the flush; rows are written prepared,
    and the journal keeps the row as submitted."""
    prepared: list[str] = []

    def prepare(row: dict[str, Any]) -> dict[str, Any]:
        prepared.append(row["request_id"])
        return {**row, "clean": True}

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, prepare=prepare)
        writer.submit({"request_id": "r0", "spend": 0})
        writer.submit({"request_id": "r1", "spend": 0})
        assert prepared == [] and writer.pending == 2
        await asyncio.sleep(0)
        assert prepared == ["r0", "r1"] and writer.pending == 2
        assert journaled_ids(tmp_path) == {"r0", "r1"}
        await writer.drain()
        assert sorted(db.rows) == ["r0", "r1"] and all(row["clean"] for row in db.rows.values())
        assert prepared == ["r0", "r1"]  # once each

    asyncio.run(main())


def test_rows_left_unprepared_are_prepared_in_slices_when_written(tmp_path: Path) -> None:
    """Rows the flush finds unprepared (a dead process's segments, a burst) are prepared a slice
    at a time, with other tasks run in between, and every one is written prepared."""
    events: list[str] = []

    def prepare(row: dict[str, Any]) -> dict[str, Any]:
        events.append("prepare")
        return {**row, "clean": True}

    dead = SpendJournal(tmp_path)
    for row in rows(100):
        dead.append(row)
    dead.close()

    async def main() -> None:
        db = FlakyDatabase()
        writer = writer_for(tmp_path, db.write, prepare=prepare)
        writer.start()
        done = False

        async def other_task() -> None:
            while not done:
                events.append("other")
                await asyncio.sleep(0)

        running = asyncio.ensure_future(other_task())
        await writer.flush()
        done = True
        await running
        await writer.drain()
        assert len(db.rows) == 100 and all(row["clean"] for row in db.rows.values())

    asyncio.run(main())
    runs = [len(list(group)) for kind, group in itertools.groupby(events) if kind == "prepare"]
    assert sum(runs) == 100 and max(runs) <= 16 and len(runs) >= 7


def test_the_periodic_flush_writes_one_batch_per_tick(tmp_path: Path) -> None:
    """Rows submitted while a batch is being written wait for the next tick (not a train of small
    transactions right after each batch), unless a whole batch of them is waiting; an explicit
    flush and the drain still write everything."""

    class Writing:
        def __init__(self) -> None:
            self.batches: list[int] = []
            self.during: list[dict[str, Any]] = []

        async def write(self, batch: list[dict[str, Any]]) -> None:
            self.batches.append(len(batch))
            for row in self.during:
                writer.submit(row)  # arrives while this batch is being written
            self.during = []

    db = Writing()
    writer = writer_for(tmp_path, db.write, batch_size=10, interval=3600)

    async def main() -> None:
        writer.submit({"request_id": "r0", "spend": 0})
        db.during = rows(3, start=1)
        await writer._flush_all(everything=False)
        assert db.batches == [1] and writer.pending == 3
        db.during = rows(12, start=4)  # a whole batch arrives meanwhile: written at once
        await writer._flush_all(everything=False)
        assert db.batches == [1, 3, 10, 2] and writer.pending == 0
        writer.submit({"request_id": "r16", "spend": 0})
        db.during = rows(2, start=17)
        await writer.flush()
        assert db.batches == [1, 3, 10, 2, 1, 2] and writer.pending == 0
        await writer.drain()

    asyncio.run(main())
