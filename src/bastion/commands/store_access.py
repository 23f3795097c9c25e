"""Open the configured database for one command, run its work, close it again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bastion.settings import Settings
from bastion.store.database import Database

__all__ = ["with_database"]

T = TypeVar("T")


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        database = await Database.open(
            settings.database_url, default_path=settings.state_dir() / "bastion.db"
        )
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(main())
