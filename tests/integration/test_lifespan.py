"""The gateway's start-up and shut-down: one AsyncExitStack, one task supervisor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bastion import tasks
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.api.server import GatewayApp
from bastion.app import build_app
from bastion.settings import Settings

CONFIG: dict[str, Any] = {"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}]}


class Lifespan:
    """Drives an app's ASGI lifespan as a server would."""

    def __init__(self, app: GatewayApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def send(self, kind: str) -> str:
        if self._task is None:
            self._task = tasks.spawn_awaited(
                self._app({"type": "lifespan"}, self._inbox.get, self.sent.put), name="lifespan"
            )
        await self._inbox.put({"type": kind})
        return str((await self.sent.get())["type"])


def test_shut_down_waits_for_the_jobs_requests_started_and_stops_every_service(
    write_config: Callable[[dict[str, Any]], Settings],
) -> None:
    """A job still running at shut-down finishes before the database closes; nothing is left."""

    async def scenario() -> tuple[str, list[str], str, list[str], bool]:
        app = build_app(write_config(CONFIG))
        lifespan = Lifespan(app)
        started = await lifespan.send("lifespan.startup")
        running = tasks.current().running()
        finished: list[str] = []

        async def settle() -> None:
            for _ in range(3):
                await asyncio.sleep(0)
            assert app.database is not None
            await app.database.ping()  # still open: the drain comes first
            finished.append("settled")

        tasks.spawn(settle(), name="settle-limits")
        stopped = await lifespan.send("lifespan.shutdown")
        return started, running, stopped, finished + tasks.current().running(), app.ready

    started, running, stopped, after, ready = asyncio.run(scenario())
    assert started == "lifespan.startup.complete" and stopped == "lifespan.shutdown.complete"
    assert {"spend-writer", "overload-watch"} <= set(running)
    assert after == ["settled"]  # the job finished; no task is left running
    assert ready is False


def test_a_failed_start_up_undoes_what_it_had_started(
    write_config: Callable[[dict[str, Any]], Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up fails half-way (after the spend writer started): the server is told, and the
    services already running are stopped, in reverse order, without a hand-written undo."""

    async def fail(self: ProviderKeyService) -> None:
        raise RuntimeError("the key store is unreadable")

    monkeypatch.setattr(ProviderKeyService, "reload_system_keys", fail)

    async def scenario() -> tuple[dict[str, Any], list[str]]:
        app = build_app(write_config(CONFIG))
        lifespan = Lifespan(app)
        await lifespan._inbox.put({"type": "lifespan.startup"})
        lifespan._task = tasks.spawn_awaited(
            app({"type": "lifespan"}, lifespan._inbox.get, lifespan.sent.put), name="lifespan"
        )
        answer = await lifespan.sent.get()
        await lifespan._task
        return answer, tasks.current().running()

    answer, left = asyncio.run(scenario())
    assert answer["type"] == "lifespan.startup.failed" and "unreadable" in answer["message"]
    assert left == []
