"""The gateway's start-up and shut-down: one AsyncExitStack, one task supervisor."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest

from bastion import tasks
from bastion.accounting.spend_writer import SpendWriter
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.api.server import GatewayApp
from bastion.app import build_app
from bastion.settings import Settings
from bastion.store.database import Database

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


def test_shut_down_writes_the_last_spend_rows_before_the_database_closes(
    write_config: Callable[[dict[str, Any]], Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request answered just before the signal: its row, queued and in the journal, is written by
    the spend writer's drain, which ends before the database closes; the journal is left empty."""
    settings = write_config(CONFIG)
    order: list[str] = []

    def noted(cls: type, name: str) -> None:
        original = getattr(cls, name)

        async def wrapper(self: Any) -> None:
            await original(self)
            order.append(f"{cls.__name__}.{name}")

        monkeypatch.setattr(cls, name, wrapper)

    noted(SpendWriter, "drain")
    noted(Database, "close")

    async def scenario() -> None:
        app = build_app(settings)
        lifespan = Lifespan(app)
        assert await lifespan.send("lifespan.startup") == "lifespan.startup.complete"
        assert app.spend_writer is not None
        row = {"request_id": "last-one", "api_key": "", "start_time": time.time(), "spend": 0.5}
        app.spend_writer.submit(row | {"status": "success", "total_tokens": 7, "metadata": {}})
        assert await lifespan.send("lifespan.shutdown") == "lifespan.shutdown.complete"

    asyncio.run(scenario())
    assert order == ["SpendWriter.drain", "Database.close"]
    with sqlite3.connect(settings.state_dir() / "bastion.db") as db:
        stored = db.execute("SELECT request_id, spend FROM spend_logs").fetchall()
    assert stored == [("last-one", 0.5)]
    assert not list((settings.state_dir() / "spend-journal").rglob("*.jsonl"))


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
