"""Finished requests' releases and settlements, sent to Redis together: one script per round trip.

A request's finish (:meth:`~bastion.limits._redis_gate.RedisGate.finish`) runs after its answer is
written and changes nothing the answer depends on: the reservation already holds its capacity
until it is settled. So the finishes of concurrent requests are queued and sent in one
``FINISH`` script, each applied in turn exactly as it would be on its own, while the
previous batch is on its way: one command, one reply and one script run in Redis for the lot
instead of one each, and a request's finish waits at most one round trip longer. A batch holds at
most :data:`MAX_BATCH` finishes, so one script never keeps Redis busy long.

A batch that fails (Redis down, a timeout) fails every finish in it, as their own commands would
have: each caller gets the :class:`~bastion.limits.errors.LimitsUnavailableError`, and the holds
expire with their lease as before.
"""

from __future__ import annotations

import asyncio
from collections import deque

from bastion.limits._redis_store import Args, RedisLimitsStore

__all__ = ["MAX_BATCH", "FinishQueue"]

#: The most finishes one script applies.
MAX_BATCH = 256


class _Batch:
    __slots__ = ("args", "count", "done", "keys")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.keys: list[str] = []
        self.args: Args = []
        self.count = 0
        self.done: asyncio.Future[None] = loop.create_future()


class FinishQueue:
    """The finishes waiting for Redis, sent one batch at a time by a job of the store's."""

    def __init__(self, store: RedisLimitsStore) -> None:
        self._store = store
        self._batches: deque[_Batch] = deque()
        self._sending = False

    def add(
        self, rate_keys: list[str], rate_args: Args, budget_keys: list[str], budget_args: Args
    ) -> asyncio.Future[None]:
        """Queue one request's release and settlement (the keys and arguments of
        :meth:`~RedisRateLimiter.release_parts` and :meth:`~RedisBudgets.settle_parts`); the
        future is done once Redis applied them."""
        batches = self._batches
        if not batches or batches[-1].count >= MAX_BATCH:
            batches.append(_Batch(asyncio.get_running_loop()))
        batch = batches[-1]
        batch.keys += rate_keys
        batch.keys += budget_keys
        batch.args += (len(rate_keys), len(budget_keys), len(rate_args), len(budget_args))
        batch.args += rate_args
        batch.args += budget_args
        batch.count += 1
        if not self._sending:
            self._sending = True
            self._store.spawn(self._send())
        return batch.done

    async def _send(self) -> None:
        batches = self._batches
        batch: _Batch | None = None
        try:
            while batches:
                batch = batches.popleft()
                try:
                    args = [self._store.now_arg(), batch.count, *batch.args]
                    await self._store.run(RedisLimitsStore.FINISH, batch.keys, args)
                except Exception as err:
                    batch.done.set_exception(err)
                else:
                    batch.done.set_result(None)
        except BaseException:  # cancelled (a shutdown that could not wait): nobody waits forever
            for left in [*([batch] if batch is not None else []), *batches]:
                if not left.done.done():
                    left.done.cancel()
            batches.clear()
            raise
        finally:
            self._sending = False
