"""The ASGI lifespan protocol: start-up before the first connection, shutdown after the last."""

from __future__ import annotations

import asyncio
from typing import Any

from bastion import tasks
from bastion.server._state import App, log

__all__ = ["Lifespan"]


class Lifespan:
    """Runs the app's lifespan task and hands it ``startup`` then ``shutdown``."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> str | None:
        """Start the app; the reason it failed, or None."""
        # The app's start-up and shut-down run in this task (its shut-down closes the loop's task
        # supervisor, which leaves the task it runs in alone).
        self._task = tasks.spawn_awaited(self._main(), name="lifespan")
        answer = await self._ask("lifespan.startup")
        if answer["type"] == "lifespan.startup.complete":
            return None
        return str(answer.get("message") or "the app's start-up failed")

    async def shutdown(self) -> None:
        """Let the app release what it holds (flush spend rows, close pools)."""
        if self._task is None or self._task.done():
            return
        answer = await self._ask("lifespan.shutdown")
        if answer["type"] != "lifespan.shutdown.complete":
            log.error("the app's shutdown failed: %s", answer.get("message"))
        await self._task

    async def _ask(self, kind: str) -> dict[str, Any]:
        assert self._task is not None
        self._answer = asyncio.get_running_loop().create_future()
        await self._inbox.put({"type": kind})
        await asyncio.wait((self._answer, self._task), return_when=asyncio.FIRST_COMPLETED)
        if self._answer.done():
            return self._answer.result()
        return {"type": f"{kind}.failed", "message": "the app ended its lifespan early"}

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self._app(scope, self._inbox.get, self._send)
        except Exception:
            log.exception("the app's lifespan failed")

    async def _send(self, message: dict[str, Any]) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(message)
