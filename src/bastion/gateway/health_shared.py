"""Deployment health shared by every gateway process through Redis: cooldowns, and usage for
``usage-based-routing``.

A process that cools a deployment down writes ``<namespace>:cooldown:<deployment id>`` with the
cooldown as its expiry (``SET ... PX``). With ``usage-based-routing``, each request and its tokens
are added to ``<namespace>:usage:<deployment id>:<minute>`` (a hash: ``INCRBY``-style ``HINCRBY``,
expiring after two minutes). Every process reads those keys once a second (pipelined on the
process's one Redis client), cools down locally whatever another process cooled down for the time
left, and takes the shared usage counts. The request path never waits on Redis: writes are sent
without waiting and picks read only the local state. Redis being down leaves each process with its
own view (logged once per outage); a read waits at most ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from bastion.gateway.health import DeploymentHealth
from bastion.outbound.resp import RespClient, RespConnectionError, RespError
from bastion.tasks import TaskSet, spawn_service

__all__ = ["SharedHealth"]

_log = logging.getLogger("bastion.health")
_USAGE_TTL_MS = 120_000


class SharedHealth:
    def __init__(
        self,
        client: RespClient,
        health: DeploymentHealth,
        deployments: Sequence[str],
        *,
        cooldowns: bool = True,
        usage: bool = False,
        namespace: str = "bastion",
        interval: float = 1.0,
        timeout: float = 1.0,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._health = health
        self._deployments = list(deployments)
        self._namespace = namespace
        self._cooldowns = cooldowns
        self._usage = usage
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._pending = TaskSet("shared-health-write")
        self._failing = False
        if cooldowns:
            health.on_cooldown = self.announce
        if usage:
            health.on_used = self.count

    def _cooldown_key(self, deployment: str) -> str:
        return f"{self._namespace}:cooldown:{deployment}"

    def _usage_key(self, deployment: str, minute: int) -> str:
        return f"{self._namespace}:usage:{deployment}:{minute}"

    # ------------------------------------------------------------------ writes, never awaited

    def announce(self, deployment: str, seconds: float) -> None:
        """This process cooled ``deployment`` down for ``seconds``."""
        self._send(
            self._client.execute(
                "SET", self._cooldown_key(deployment), "1", "PX", max(int(seconds * 1000), 1)
            )
        )

    def count(self, deployment: str, requests: int, tokens: int) -> None:
        """This process sent ``deployment`` requests / tokens this minute."""
        key = self._usage_key(deployment, self._health.minute())
        if requests:
            self._send(self._client.execute("HINCRBY", key, "r", requests))
        if tokens:
            self._send(self._client.execute("HINCRBY", key, "t", tokens))
        self._send(self._client.execute("PEXPIRE", key, _USAGE_TTL_MS))

    def _send(self, command: Awaitable[Any]) -> None:
        self._pending.spawn(self._guard(command))

    async def _guard(self, command: Awaitable[Any]) -> None:
        try:
            await command
        except (RespConnectionError, RespError) as err:
            self._report(err)

    # ------------------------------------------------------------------ reads, once a second

    async def sync_once(self) -> None:
        """Take what the other processes wrote (one pipelined round trip)."""
        deps, health = self._deployments, self._health
        minute = health.minute()
        commands = []
        if self._cooldowns:
            commands += [self._client.execute("PTTL", self._cooldown_key(d)) for d in deps]
        if self._usage:
            commands += [self._client.execute("HMGET", self._usage_key(d, minute), "r", "t") for d in deps]
        try:
            async with asyncio.timeout(self._timeout):
                replies = await asyncio.gather(*commands)
        except TimeoutError:
            self._report(RespConnectionError(f"Redis did not answer within {self._timeout:g} s"))
            return
        except (RespConnectionError, RespError) as err:
            self._report(err)
            return
        self._failing = False
        if self._cooldowns:
            for dep, left in zip(deps, replies[: len(deps)], strict=True):
                if isinstance(left, int) and left > 0:
                    health.cool_for(dep, left / 1000)
            replies = replies[len(deps) :]
        if self._usage:
            for dep, (requests, tokens) in zip(deps, replies, strict=True):
                if requests is not None or tokens is not None:
                    health.set_usage(dep, minute, int(requests or 0), int(tokens or 0))

    def _report(self, err: Exception) -> None:
        if not self._failing:
            self._failing = True
            _log.warning("sharing deployment health through Redis failed: %s", err)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._task is None and self._deployments:
            self._task = spawn_service(self._run(), name="bastion-shared-health")

    async def _run(self) -> None:
        while True:
            await self.sync_once()
            await asyncio.sleep(self._interval)

    async def settled(self) -> None:
        """Return once every write started so far is done (tests)."""
        await self._pending.drain()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.settled()
