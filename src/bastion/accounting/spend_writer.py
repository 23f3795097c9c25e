"""Writes spend records to the database in batches, off the request path, without ever losing one.

Requests hand their record to :meth:`SpendWriter.submit` (a deque append; no I/O). A background
task writes batches through the ``write`` callable (the store's idempotent bulk insert). When the
database cannot be reached (or does not answer within ``write_timeout``), the batch goes to a local
spool file (JSON lines, flushed and fsynced) and is replayed, oldest first, once writes succeed
again. ``drain()`` (graceful shutdown) writes or spools everything still queued; ``flush()``
writes everything now. Replays are safe because the insert ignores request ids it already has.

Two things never block the rest: a batch the database *rejects* (bad data, not an outage) is
written row by row and the rows it still refuses go to a ``.rejected`` file with a loud log line;
a spool line that does not parse (a write cut by a crash) goes there too. Each process has a spool
file of its own (``--workers N``); spools left by processes that are gone are adopted and replayed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bastion.tasks import spawn_service

__all__ = ["SpendWriter"]

_log = logging.getLogger("bastion.spend")

Row = dict[str, Any]
WriteBatch = Callable[[list[Row]], Awaitable[None]]


class SpendWriter:
    def __init__(
        self,
        write: WriteBatch,
        *,
        spool_path: Path,
        batch_size: int = 500,
        interval: float = 1.0,
        retry_interval: float = 5.0,
        write_timeout: float = 30.0,
        is_outage: Callable[[Exception], bool] = lambda exc: True,
        orphans: Callable[[], list[Path]] = list,
    ) -> None:
        self._write = write
        self._spool = spool_path
        self._rejected = spool_path.with_name(spool_path.stem + ".rejected.jsonl")
        self._write_timeout = write_timeout
        self._is_outage = is_outage
        self._orphans = orphans
        self._batch_size = batch_size
        self._interval = interval
        self._retry_interval = retry_interval
        self._queue: collections.deque[Row] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One flush at a time: a replay rewrites the spool, which must not race with an append.
        self._flushing = asyncio.Lock()
        self._stopping = False
        self._drained = False
        self._retry_at = 0.0
        #: Counters for metrics and tests.
        self.written = 0
        self.spooled = 0

    # ---------------------------------------------------------------- request path

    def submit(self, row: Row) -> None:
        """Queue one record; never blocks, never does I/O (except after ``drain()``, see below)."""
        if self._drained:
            # A request that ended after the shutdown drain: nothing will flush the queue again.
            self._append_spool([row])
            return
        self._queue.append(row)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ---------------------------------------------------------------- background task

    def start(self) -> None:
        if self._task is None:
            self._task = spawn_service(self._run(), name="spend-writer")

    async def drain(self) -> None:
        """Stop the background task and write (or spool) everything still queued."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        async with self._flushing:
            await self._flush_all()
            self._spool_queue()  # whatever could not be written is on disk before the process ends
            self._drained = True

    async def flush(self) -> None:
        """Write the spool and the queue now, without waiting out the retry delay of an outage;
        what cannot be written is spooled."""
        async with self._flushing:
            self._retry_at = 0.0
            await self._flush_all()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                async with self._flushing:
                    await self._flush_all()
            except Exception:  # the writer must outlive any one bad batch; it logs and goes on
                _log.exception("spend writer failed; records stay queued or spooled")

    async def _flush_all(self) -> None:
        self._adopt_orphans()
        if self._spool.exists():
            now = asyncio.get_running_loop().time()
            # While the database is down, try again every retry_interval, not on every tick.
            if now < self._retry_at and not self._stopping:
                self._spool_queue()
                return
            if not await self._replay_spool():
                self._retry_at = now + self._retry_interval
                self._spool_queue()
                return
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            if not await self._try_write(batch):
                self._retry_at = asyncio.get_running_loop().time() + self._retry_interval
                self._append_spool(batch)
                self._spool_queue()
                return

    async def _try_write(self, batch: list[Row]) -> bool:
        """Write ``batch``; False on an outage (the caller spools it). Rows the database rejects
        for their content are set aside, so one bad row never stops the others."""
        try:
            await asyncio.wait_for(self._write(batch), self._write_timeout)
        except TimeoutError:
            _log.warning(
                "the database did not answer in %gs; spooling %d spend records",
                self._write_timeout,
                len(batch),
            )
            return False
        except Exception as exc:
            if self._is_outage(exc):  # database down, network cut: spool and retry later
                _log.warning("could not write %d spend records (%s); spooling them", len(batch), exc)
                return False
            if len(batch) == 1:
                _log.error(
                    "the database rejected spend record %s (%s); kept in %s",
                    batch[0].get("request_id"),
                    exc,
                    self._rejected,
                )
                self._append(self._rejected, batch)
                return True
            for row in batch:  # find the bad row(s): the others must still be written
                if not await self._try_write([row]):
                    return False
            return True
        self.written += len(batch)
        return True

    # ---------------------------------------------------------------- spool file

    def _spool_queue(self) -> None:
        if self._queue:
            batch = list(self._queue)
            self._queue.clear()
            self._append_spool(batch)

    def _append_spool(self, batch: list[Row]) -> None:
        self._append(self._spool, batch)
        self.spooled += len(batch)

    @staticmethod
    def _append(path: Path, batch: list[Row]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as out:
            out.write(b"".join(orjson.dumps(row, default=str) + b"\n" for row in batch))
            out.flush()
            os.fsync(out.fileno())

    def _adopt_orphans(self) -> None:
        """Append the spools of processes that are gone to ours (rename first: one adopter wins)."""
        for orphan in self._orphans():
            claimed = self._spool.with_name(f"{self._spool.stem}.adopting-{orphan.name}")
            try:
                orphan.rename(claimed)
            except OSError:
                continue  # another process took it
            with claimed.open("rb") as src, self._spool.open("ab") as out:
                out.write(src.read())
                out.flush()
                os.fsync(out.fileno())
            claimed.unlink()
            _log.info("adopted the spend spool %s", orphan.name)

    async def _replay_spool(self) -> bool:
        """Write the spool's records; True when the spool is gone (all written)."""
        rows: list[Row] = []
        for line in self._spool.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError:  # a line cut by a crash mid-append: set it aside
                _log.error("unreadable line in the spend spool; kept in %s", self._rejected)
                with self._rejected.open("ab") as out:
                    out.write(line + b"\n")
        for start in range(0, len(rows), self._batch_size):
            if not await self._try_write(rows[start : start + self._batch_size]):
                # Keep what is not written yet (earlier batches were written; a replay of them
                # would be ignored anyway, but there is no need to send them again).
                rest = rows[start:]
                tmp = self._spool.with_suffix(".tmp")
                tmp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rest))
                tmp.replace(self._spool)
                return False
        self._spool.unlink()
        _log.info("replayed %d spooled spend records", len(rows))
        return True
