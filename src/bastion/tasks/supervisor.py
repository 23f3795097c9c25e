"""The task supervisor of an event loop, and the functions every other module spawns through."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

__all__ = ["TaskSet", "TaskSupervisor", "current", "drain", "spawn", "spawn_awaited", "spawn_service"]

_log = logging.getLogger("bastion.tasks")
T = TypeVar("T")


class TaskSupervisor:
    """Every task of one event loop: jobs, services and awaited children (see the package doc)."""

    def __init__(self) -> None:
        self._jobs: set[asyncio.Task[Any]] = set()
        self._services: set[asyncio.Task[Any]] = set()
        self._children: set[asyncio.Task[Any]] = set()

    @property
    def pending(self) -> int:
        """Jobs not finished yet."""
        return len(self._jobs)

    def running(self) -> list[str]:
        """The names of every task not finished yet (jobs, services, children), for tests and logs."""
        every = (*self._jobs, *self._services, *self._children)
        return sorted(task.get_name() for task in every if not task.done())

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        return self._start(coro, name, self._jobs, log=True)

    def spawn_service(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        return self._start(coro, name, self._services, log=True)

    def spawn_awaited(self, work: Awaitable[T], *, name: str) -> asyncio.Task[T]:
        coro = work if isinstance(work, Coroutine) else _awaiting(work)
        return self._start(coro, name, self._children, log=False)

    def _start(
        self, coro: Coroutine[Any, Any, T], name: str, into: set[asyncio.Task[Any]], *, log: bool
    ) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)  # noqa: TID251  # the one place tasks are created
        into.add(task)
        task.add_done_callback(_Finished(into, log))
        return task

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no job is left, including jobs spawned meanwhile; False if ``timeout``
        (seconds) passed first. Services and children are not waited for."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        me = asyncio.current_task()
        while jobs := [job for job in self._jobs if job is not me]:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(jobs, timeout=left)
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Shutdown: drain the jobs (up to ``timeout`` seconds), then cancel every task left."""
        if not await self.drain(timeout):
            _log.error("%d background jobs did not finish in %g s; cancelling them", len(self._jobs), timeout)
        me = asyncio.current_task()  # the shut-down itself may run in a supervised task
        left = [task for task in (*self._jobs, *self._services, *self._children) if task is not me]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left)


class _Finished:
    """The done-callback: forget the task, and log its failure (for jobs and services)."""

    __slots__ = ("_into", "_log")

    def __init__(self, into: set[asyncio.Task[Any]], log: bool) -> None:
        self._into = into
        self._log = log

    def __call__(self, task: asyncio.Task[Any]) -> None:
        self._into.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved: asyncio does not warn again
        if error is not None and self._log:
            _log.error("background task %s failed", task.get_name(), exc_info=error)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TaskSupervisor] = weakref.WeakKeyDictionary()
_last: tuple[asyncio.AbstractEventLoop | None, TaskSupervisor | None] = (None, None)
_lock = threading.Lock()  # each test gateway and mock upstream runs its own loop in a thread


def current() -> TaskSupervisor:
    """The supervisor of the running event loop (made on first use)."""
    global _last
    loop = asyncio.get_running_loop()
    last_loop, last = _last
    if last_loop is loop and last is not None:
        return last
    with _lock:
        found = _by_loop.get(loop)
        if found is None:
            found = _by_loop[loop] = TaskSupervisor()
    _last = (loop, found)
    return found


def spawn(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start a background job on the running loop's supervisor."""
    return current().spawn(coro, name=name)


def spawn_service(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start a service (runs until stopped) on the running loop's supervisor."""
    return current().spawn_service(coro, name=name)


def spawn_awaited(work: Awaitable[T], *, name: str) -> asyncio.Task[T]:
    """Start a child task its creator awaits (a coroutine, or any awaitable such as an ASGI
    ``receive()``), on the running loop's supervisor."""
    return current().spawn_awaited(work, name=name)


async def _awaiting(work: Awaitable[T]) -> T:
    return await work


async def drain(timeout: float | None = None) -> bool:
    """Wait for every background job of the running loop ("drain then return", for tests)."""
    return await current().drain(timeout)


class TaskSet:
    """The jobs one owner spawned, so it can wait for its own (``await settle.drain()``)."""

    __slots__ = ("_name", "_tasks")

    def __init__(self, name: str) -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = spawn(coro, name=self._name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Return once every job spawned here so far (and meanwhile) has finished."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))
