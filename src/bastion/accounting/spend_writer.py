"""Writes spend records to the database in batches, off the request path, without ever losing one.

Requests hand their record to :meth:`SpendWriter.submit` (a deque append; no I/O). A background
task writes batches through the ``write`` callable (the store's idempotent bulk insert). When the
database cannot be reached, the batch goes to a local spool file (JSON lines, flushed and fsynced)
and is replayed, oldest first, once writes succeed again. ``drain()`` (graceful shutdown) writes
or spools everything still queued. Replays are safe because the insert ignores request ids it
already has.
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
    ) -> None:
        self._write = write
        self._spool = spool_path
        self._batch_size = batch_size
        self._interval = interval
        self._retry_interval = retry_interval
        self._queue: collections.deque[Row] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._retry_at = 0.0
        #: Counters for metrics and tests.
        self.written = 0
        self.spooled = 0

    # ---------------------------------------------------------------- request path

    def submit(self, row: Row) -> None:
        """Queue one record; never blocks, never does I/O."""
        self._queue.append(row)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ---------------------------------------------------------------- background task

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="spend-writer")

    async def drain(self) -> None:
        """Stop the background task and write (or spool) everything still queued."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._flush_all()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._flush_all()
            except Exception:  # the writer must outlive any one bad batch; it logs and goes on
                _log.exception("spend writer failed; records stay queued or spooled")

    async def _flush_all(self) -> None:
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
        try:
            await self._write(batch)
        except Exception as exc:  # database down, network cut: spool and retry later
            _log.warning(
                "could not write %d spend records (%s); spooling to %s", len(batch), exc, self._spool
            )
            return False
        self.written += len(batch)
        return True

    # ---------------------------------------------------------------- spool file

    def _spool_queue(self) -> None:
        if self._queue:
            batch = list(self._queue)
            self._queue.clear()
            self._append_spool(batch)

    def _append_spool(self, batch: list[Row]) -> None:
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        with self._spool.open("ab") as out:
            for row in batch:
                out.write(orjson.dumps(row, default=str) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        self.spooled += len(batch)

    async def _replay_spool(self) -> bool:
        """Write the spool's records; True when the spool is gone (all written)."""
        rows = [orjson.loads(line) for line in self._spool.read_bytes().splitlines() if line.strip()]
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
