"""Writes spend rows to the database in batches, off the request path, without ever losing one.

:meth:`SpendWriter.submit` is the request path's only call: it appends the row to the local
journal (:mod:`bastion.accounting.spend_journal`, a copy into a shared memory mapping of a file: the
row survives the process being killed from then on) and queues it. A background task writes the
queue in batches through ``write`` (the store's idempotent bulk insert), sealing the journal's
segment first and deleting it once the database has its rows.

When the database cannot be reached (or does not answer within ``write_timeout``), the rows stay on
disk only: the sealed segments (fsynced) become the *backlog*, the memory is freed, and the backlog
is replayed, oldest first, every ``retry_interval`` until the database is back. Segments left by
processes that are gone are adopted into the backlog too (at start and every ``adopt_interval``).
``drain()`` (graceful shutdown) writes what it can and leaves the rest in the backlog for the next
start; ``flush()`` writes everything now.

A row the database *refuses* (bad data, not an outage) never blocks the others: the batch is split
until the refused row is alone, and that row is stored in reduced form (:func:`~bastion.accounting.
spend_rows.reduce_row`: its cost and Bastion's own ids, so spend totals and budgets still count
it), with an error log line and ``bastion_spend_rows_rejected_total``; its original goes to the
journal's ``rejected.jsonl``. Replays are safe because the insert ignores request ids it already has.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bastion.accounting.spend_journal import SpendJournal, read_segment
from bastion.accounting.spend_rows import Row, reduce_row
from bastion.observability.metrics import Metrics
from bastion.tasks import spawn_service

__all__ = ["SpendWriter"]

_log = logging.getLogger("bastion.spend")

_T = TypeVar("_T")
WriteBatch = Callable[[list[Row]], Awaitable[None]]


class SpendWriter:
    def __init__(
        self,
        write: WriteBatch,
        *,
        journal: SpendJournal,
        batch_size: int = 500,
        interval: float = 1.0,
        retry_interval: float = 5.0,
        adopt_interval: float = 5.0,
        write_timeout: float = 30.0,
        is_outage: Callable[[Exception], bool] = lambda exc: True,
        metrics: Metrics | None = None,
        prepare: Callable[[Row], Row] | None = None,
    ) -> None:
        """``prepare`` turns a row into what ``write`` takes (the app cleans rows with it); it runs
        on each row in the event loop's turn after the one that submitted it (after the answer),
        so that a flush has no batch of rows to prepare at once."""
        self._write = write
        self._prepare = prepare
        self.journal = journal
        self._write_timeout = write_timeout
        self._is_outage = is_outage
        self._metrics = metrics
        self._batch_size = batch_size
        self._interval = interval
        self._retry_interval = retry_interval
        self._adopt_interval = adopt_interval
        #: Rows ready to write (prepared), oldest first.
        self._queue: collections.deque[Row] = collections.deque()
        #: Rows submitted and not prepared yet (only with ``prepare``), oldest first.
        self._raw: collections.deque[Row] = collections.deque()
        self._preparing = False
        #: Sealed journal segments whose rows are in memory (queued or being written now).
        self._sealed: list[Path] = []
        #: Segments whose rows are on disk only: spilled in an outage, or adopted.
        self._backlog: list[Path] = []
        self._journal_failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One flush at a time: segments move between the lists above only under it.
        self._flushing = asyncio.Lock()
        self._stopping = False
        self._drained = False
        self._retry_at = 0.0
        self._adopt_at = 0.0
        #: Counters for metrics and tests: rows written, rows moved to the backlog in an outage,
        #: backlog rows written, rows stored reduced, rows set aside unstored.
        self.written = 0
        self.spooled = 0
        self.replayed = 0
        self.reduced = 0
        self.set_aside = 0

    # ---------------------------------------------------------------- request path

    def submit(self, row: Row) -> None:
        """Journal one row (it survives a kill once this returns) and queue it; never blocks."""
        failures = self.journal.failures
        self.journal.append(row)
        if self.journal.failures != failures and self._metrics is not None:
            self._metrics.spend_journal_errors.inc()
        if self._drained:
            # A request that ended after the shutdown drain: the journal keeps it for the next start.
            if not self.journal.durable:
                self.journal.spill([row])
            return
        if self._prepare is None:
            self._queue.append(row)
        else:
            self._raw.append(row)
            if not self._preparing:
                self._prepare_soon()
        if len(self._queue) + len(self._raw) >= self._batch_size:
            self._wake.set()

    def _prepare_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a test): rows are prepared when written
            return
        self._preparing = True
        loop.call_soon(self._prepare_some)

    def _prepare_some(self) -> None:
        """Prepare a slice of the rows submitted, oldest first; the rest in a later turn."""
        self._preparing = False
        assert self._prepare is not None
        raw, prepare, queue = self._raw, self._prepare, self._queue
        for _ in range(min(len(raw), _PREPARE_SLICE)):
            row = raw.popleft()
            try:
                queue.append(prepare(row))
            except Exception:  # written as it is: the write's own checks decide
                _log.exception("could not prepare spend row %s", row.get("request_id"))
                queue.append(row)
        if raw:
            self._prepare_soon()

    async def _prepared(self, rows: list[Row]) -> list[Row]:
        """``rows`` prepared, a slice at a time with other tasks run in between."""
        prepare = self._prepare
        if prepare is None:
            return rows
        out: list[Row] = []
        for start in range(0, len(rows), _PREPARE_SLICE):
            if start:
                await asyncio.sleep(0)
            out += [prepare(row) for row in rows[start : start + _PREPARE_SLICE]]
        return out

    @property
    def pending(self) -> int:
        """Rows queued in memory."""
        return len(self._queue) + len(self._raw)

    @property
    def backlog(self) -> list[Path]:
        """Journal segments waiting for the database (an outage, or adopted from a dead process)."""
        return list(self._backlog)

    async def with_unwritten(self, read: Callable[[], Awaitable[_T]]) -> tuple[_T, list[Row]]:
        """``read()`` (of spend totals) while no batch is being written, and the rows that are not
        in the database yet (queued, or on disk in the backlog): together, every answered request.

        Budget counters are seeded this way (a restart, Redis lost its counters), so rows still on
        their way, or waiting out an outage, count against the budget all the same."""
        async with self._flushing:
            result = await read()
            rows = [*self._queue, *self._raw]
            for segment in self._backlog:
                rows += read_segment(segment)[0]
        return result, rows

    # ---------------------------------------------------------------- background task

    def start(self) -> None:
        """Adopt what dead processes left, and start the background task."""
        self._adopt()
        if self._task is None:
            self._task = spawn_service(self._run(), name="spend-writer")

    async def drain(self) -> None:
        """Stop the background task, write what can be written, and leave the rest on disk."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        async with self._flushing:
            await self._flush_all()
            if self._queue or self._raw or self._sealed:
                await self._spill([])
            self._drained = True
            self.journal.close()

    async def flush(self) -> None:
        """Write the backlog and the queue now, without waiting out the retry delay of an outage;
        what cannot be written stays in the backlog."""
        async with self._flushing:
            self._retry_at = 0.0
            self._adopt_at = 0.0
            await self._flush_all()

    async def _run(self) -> None:
        async with self._flushing:
            await self.journal.upkeep()  # the first segment, made ahead of the first request
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                async with self._flushing:
                    await self._flush_all(everything=False)
            except Exception:  # the writer must outlive any one bad batch; it logs and goes on
                _log.exception("spend writer failed; rows stay queued or in the journal")

    async def _flush_all(self, *, everything: bool = True) -> None:
        """Write the backlog and the queue. ``everything`` false (the periodic tick): the rows
        queued while a batch was being written wait for the next tick unless a whole batch of them
        is waiting. Writing them at once made a train of ever smaller transactions after each
        batch (rows keep coming while one is written), each with its statements' fixed cost on the
        event loop, and a writer at work for much of the time instead of once a second."""
        now = asyncio.get_running_loop().time()
        if now >= self._adopt_at:
            self._adopt()
            self._adopt_at = now + self._adopt_interval
        if now < self._retry_at and not self._stopping:
            # The database is down: try again every retry_interval, not on every tick; meanwhile
            # the rows live on disk only.
            await self._spill([])
            return
        while self._backlog:
            segment = self._backlog[0]
            rows, torn = read_segment(segment)
            if torn:
                _log.error("%d unreadable lines in %s; kept in %s", len(torn), segment, self.journal.rejected)
                self.journal.set_aside(torn)
            if not await self._write_all(await self._prepared(rows)):
                await self._outage([])
                return
            await self.journal.upkeep([segment])
            self._backlog.pop(0)
            self.replayed += len(rows)
            _log.info("wrote %d spend rows the database had missed", len(rows))
        first = True
        while self._queue or self._raw:
            if not (everything or first or len(self._queue) + len(self._raw) >= self._batch_size):
                return
            first = False
            self._sealed += self.journal.seal()
            # Taken at once: rows submitted from here on are in the next segment.
            rows, raw = list(self._queue), list(self._raw)
            self._queue.clear()
            self._raw.clear()
            rows += await self._prepared(raw)
            if not await self._write_all(rows):
                await self._outage(rows)
                return
            await self.journal.upkeep(self._sealed)
            self._sealed.clear()

    async def _outage(self, taken: list[Row]) -> None:
        self._retry_at = asyncio.get_running_loop().time() + self._retry_interval
        await self._spill(taken)

    async def _spill(self, taken: list[Row]) -> None:
        """Move every row in memory to the backlog on disk (``taken``: rows out of the queue)."""
        self._sealed += self.journal.seal()
        # Taken synchronously: rows submitted while the fsync below runs go to the next segment
        # and stay queued.
        segments, self._sealed = self._sealed, []
        rows = [*taken, *self._queue, *self._raw]
        self._queue.clear()
        self._raw.clear()
        unjournaled = self.journal.failures != self._journal_failures or not self.journal.durable
        try:
            if unjournaled and rows:  # rows only in memory: written to a segment of their own
                spilled = self.journal.spill(rows)
                segments = [*segments, *([spilled] if spilled is not None else [])]
            await self.journal.upkeep()  # closes the sealed segments: cut to their rows
            await asyncio.to_thread(_fsync_all, segments)
        except OSError as exc:  # nowhere to put them: they stay in memory for the next try
            _log.error("could not spool %d spend rows to disk (%s); kept in memory", len(rows), exc)
            # Prepared again when written (preparing a prepared row changes nothing).
            (self._queue if self._prepare is None else self._raw).extendleft(reversed(rows))
            self._sealed = [*segments, *self._sealed]
            return
        self._journal_failures = self.journal.failures
        self._backlog.extend(segments)
        self.spooled += len(rows)

    def _adopt(self) -> None:
        known = {*self._backlog, *self._sealed}
        found = [path for path in self.journal.adopt() if path not in known]
        self._backlog.extend(found)

    # ---------------------------------------------------------------- writing

    async def _write_all(self, rows: Sequence[Row]) -> bool:
        """Write ``rows`` in batches; False on an outage (already written batches stay written)."""
        for start in range(0, len(rows), self._batch_size):
            if not await self._try_write(list(rows[start : start + self._batch_size])):
                return False
        return True

    async def _try_write(self, batch: list[Row]) -> bool:
        """Write ``batch``; False on an outage. A batch the database refuses for its content is
        halved until the refused rows are alone, so one bad row never stops the others."""
        try:
            await asyncio.wait_for(self._write(batch), self._write_timeout)
        except TimeoutError:
            _log.warning(
                "the database did not answer in %gs; %d spend rows wait", self._write_timeout, len(batch)
            )
            return False
        except Exception as exc:
            if self._is_outage(exc):  # database down, network cut: retry later
                _log.warning("could not write %d spend rows (%s); they wait on disk", len(batch), exc)
                return False
            if len(batch) == 1:
                return await self._refused(batch[0], exc)
            half = len(batch) // 2
            return await self._try_write(batch[:half]) and await self._try_write(batch[half:])
        self.written += len(batch)
        return True

    async def _refused(self, row: Row, exc: Exception) -> bool:
        """Store a refused row reduced to Bastion's own values; set it aside if even that fails."""
        self.journal.set_aside([row])  # the original, for whoever looks into it
        try:
            await asyncio.wait_for(self._write([reduce_row(row)]), self._write_timeout)
        except TimeoutError:
            return False
        except Exception as again:
            if self._is_outage(again):
                return False
            self.set_aside += 1
            self._count("set_aside")
            _log.error(
                "the database refused spend row %s (%s), even reduced (%s); its cost %s is NOT in the "
                "spend totals; the row is kept in %s",
                row.get("request_id"),
                exc,
                again,
                row.get("spend"),
                self.journal.rejected,
            )
            return True
        self.reduced += 1
        self.written += 1
        self._count("reduced")
        _log.error(
            "the database refused spend row %s (%s); stored without the values it refused (its cost "
            "%s counts); the original is kept in %s",
            row.get("request_id"),
            exc,
            row.get("spend"),
            self.journal.rejected,
        )
        return True

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.spend_rows_rejected.labels(outcome).inc()


#: Rows prepared between two turns of the event loop (cleaning one takes about 5 to 10 us).
_PREPARE_SLICE = 16


def _fsync_all(paths: Sequence[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
