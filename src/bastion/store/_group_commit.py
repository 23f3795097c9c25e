"""Group commit: concurrent writes of one kind gathered into one transaction, each caller awaiting it.

:meth:`GroupCommit.submit` queues an item and waits until a transaction holding it has committed,
so it returns exactly when a lone write would have (a reader on any process finds the item then),
but N concurrent callers cost one transaction instead of N queued ones (on SQLite, N writers
spinning on the write lock under the busy timeout; on PostgreSQL, N round trips and commits).

One writer job per event loop and per :class:`GroupCommit` (started through :mod:`bastion.tasks`
when the first item arrives, gone when the queue is empty): it takes everything queued (up to
``max_items``/``max_size``) and writes it; what arrives meanwhile is the next batch. There is no
timer: a lone caller is written at once, and batches grow only while a transaction is in flight.

A batch that fails because the database is unavailable fails every caller of it with that error. A
batch the database *refuses* (bad data in one row, not an outage) is written again one item per
transaction, so one caller's bad row never fails the others: each gets its own outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bastion import tasks
from bastion.store._transactions import is_unavailable
from bastion.store.errors import StoreUnavailableError

__all__ = ["GroupCommit"]

_log = logging.getLogger("bastion.store")

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Writes submitted items in shared transactions through ``write`` (one call, one transaction)."""

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        max_items: int = 256,
        max_size: int = 8 << 20,
        size: Callable[[T], int] = lambda item: 1,
    ) -> None:
        """``max_size``: a batch stops growing once the ``size`` of its items reaches it (a single
        larger item is written alone)."""
        self._write = write
        self._name = name
        self._max_items = max_items
        self._max_size = max_size
        self._size = size
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: T) -> None:
        """Return once ``item`` is committed; raise what its transaction raised."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is usable
            self._loop, self._queue, self._writer = loop, [], None
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((item, done))
        if self._writer is None:
            self._writer = tasks.spawn(self._run(), name=f"{self._name}-group-commit")
        # A caller that is cancelled stops waiting; its item is still written with its batch.
        await done

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._queue:
                batch = self._take()
                await self._commit(batch)
                batch = []
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            error = StoreUnavailableError(
                "The gateway's database is unavailable right now; try again shortly.",
                code="database_unavailable",
            )
            error.detail = f"{self._name} writer stopped: {type(exc).__name__}"
            _settle([*batch, *self._queue], error)
            self._queue = []
            raise
        finally:
            if not self._queue:
                self._writer = None

    def _take(self) -> list[tuple[T, asyncio.Future[None]]]:
        taken = 0
        size = 0
        for item, _ in self._queue:
            if taken == self._max_items or (taken and size >= self._max_size):
                break
            size += self._size(item)
            taken += 1
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    async def _commit(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                _settle(batch, exc)
                return
            _log.info(
                "%s: a batch of %d was refused (%s); writing them one by one", self._name, len(batch), exc
            )
            for one in batch:
                await self._commit([one])
            return
        _settle(batch, None)


def _settle(batch: list[tuple[T, asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, done in batch:
        if done.done():  # its caller was cancelled
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
