"""The connection the Redis limits stores share: key names, scripts, shielded writes, errors."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bastion.limits import _lua
from bastion.limits.errors import LimitsUnavailableError
from bastion.outbound.resp import Arg, RespClient, RespConnectionError, RespError
from bastion.tasks import TaskSet

__all__ = ["Args", "Clock", "RedisLimitsStore", "Script"]

Clock = Callable[[], float]
#: Script arguments.
Args = list[str | int | float]


class Script:
    """A Lua script and its SHA-1, as ``EVALSHA`` names it."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class RedisLimitsStore:
    """The connection the three Redis stores share: key names, scripts, shielded writes, errors."""

    ACQUIRE = Script(_lua.ACQUIRE)
    RELEASE = Script(_lua.RELEASE)
    RENEW = Script(_lua.RENEW)
    RESERVE = Script(_lua.RESERVE)
    SETTLE = Script(_lua.SETTLE)
    PEEK = Script(_lua.PEEK)
    SEED = Script(_lua.SEED)
    ADMIT = Script(_lua.ADMIT)
    FINISH = Script(_lua.FINISH)

    def __init__(self, resp: RespClient, *, prefix: str = "bastion:", clock: Clock | None = None) -> None:
        if not prefix.startswith("bastion:"):
            raise ValueError(f"Redis key prefix must start with 'bastion:', got {prefix!r}")
        #: The process's Redis client (:mod:`bastion.outbound.resp`); not closed here.
        self.resp = resp
        self.prefix = prefix
        self._clock = clock
        self._pending = TaskSet("limits-release")

    def key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    def now_arg(self) -> str:
        """``now`` for a script: the injected clock, else ``''`` for the server's ``TIME``."""
        return "" if self._clock is None else repr(self._clock())

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        resp = self.resp
        try:
            try:
                return await resp.execute("EVALSHA", script.sha, len(keys), *keys, *args)
            except RespError as err:
                if not str(err).startswith("NOSCRIPT"):
                    raise
                await resp.execute("SCRIPT", "LOAD", script.source)
                return await resp.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except (RespError, RespConnectionError) as err:
            raise _unavailable(err) from err

    async def execute(self, *args: Arg) -> Any:
        """One plain command, mapping Redis errors like :meth:`run`."""
        try:
            return await self.resp.execute(*args)
        except (RespError, RespConnectionError) as err:
            raise _unavailable(err) from err

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as a job :meth:`close` waits for (a failure is logged by the supervisor)."""
        self._pending.spawn(work)

    async def shielded(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` to completion even if the caller is cancelled while awaiting it."""
        await asyncio.shield(self._pending.spawn(work))  # a failure is logged by the supervisor

    async def close(self) -> None:
        """Wait for the releases still running (the client is its owner's to close)."""
        await self._pending.drain()


def _unavailable(err: Exception) -> LimitsUnavailableError:
    return LimitsUnavailableError(
        f"The rate limit and budget store is unavailable ({type(err).__name__}); please retry."
    )
