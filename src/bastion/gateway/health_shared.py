"""Cooldowns shared by every gateway process through Redis.

A process that cools a deployment down writes ``<namespace>:cooldown:<deployment id>`` with the
cooldown as its expiry (``SET ... PX``). Every process reads those keys once a second (``PTTL``,
pipelined on the lean client the limits use) and cools down locally whatever another process
cooled down, for the time left. The request path never waits on Redis: picks read only the local
state. Redis being down leaves each process with its own cooldowns (logged once per outage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bastion.gateway.health import DeploymentHealth
from bastion.limits._resp import RespClient, RespConnectionError, RespError, RespTarget

__all__ = ["SharedCooldowns"]

_log = logging.getLogger("bastion.health")


class SharedCooldowns:
    def __init__(
        self,
        url: str,
        health: DeploymentHealth,
        deployments: Sequence[str],
        *,
        namespace: str = "bastion",
        interval: float = 1.0,
    ) -> None:
        self._client = RespClient(RespTarget.from_url(url), command_timeout=1.0)
        self._health = health
        self._keys = {dep: f"{namespace}:cooldown:{dep}" for dep in deployments}
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._failing = False
        health.on_cooldown = self.announce

    def announce(self, deployment: str, seconds: float) -> None:
        key = self._keys.get(deployment)
        if key is None:
            return
        task = asyncio.ensure_future(self._set(key, seconds))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _set(self, key: str, seconds: float) -> None:
        try:
            await self._client.execute("SET", key, "1", "PX", max(int(seconds * 1000), 1))
        except (RespConnectionError, RespError) as err:
            self._report(err)

    async def sync_once(self) -> None:
        """Cool down here what another process cooled down (one pipelined round trip)."""
        deps = list(self._keys)
        try:
            replies = await asyncio.gather(*(self._client.execute("PTTL", self._keys[d]) for d in deps))
        except (RespConnectionError, RespError) as err:
            self._report(err)
            return
        self._failing = False
        for dep, left in zip(deps, replies, strict=True):
            if isinstance(left, int) and left > 0:
                self._health.cool_for(dep, left / 1000)

    def _report(self, err: Exception) -> None:
        if not self._failing:
            self._failing = True
            _log.warning("sharing deployment cooldowns through Redis failed: %s", err)

    def start(self) -> None:
        if self._task is None and self._keys:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="bastion-cooldowns")

    async def _run(self) -> None:
        while True:
            await self.sync_once()
            await asyncio.sleep(self._interval)

    async def settled(self) -> None:
        """Return once every cooldown announced so far is written (tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.close()
