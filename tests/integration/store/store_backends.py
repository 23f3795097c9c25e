"""The two backends of the store suite: a SQLite file and a schema on the local PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bastion.store import Database

T = TypeVar("T")

POSTGRES_DSN = "postgresql://postgres:root@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Backend:
    """Where a test's database lives, and how to run a scenario against it."""

    name: str
    url: str | None
    default_path: Path

    def run(self, scenario: Callable[[Database], Awaitable[T]], *, migrate: bool = True) -> T:
        """Open the database (migrated), run ``scenario`` on a fresh event loop, close it."""

        async def main() -> T:
            database = await Database.open(self.url, default_path=self.default_path, migrate=migrate)
            try:
                return await scenario(database)
            finally:
                await database.close()

        return asyncio.run(main())

    def same_money(self, a: float, b: float) -> bool:
        """Exact on PostgreSQL (decimal arithmetic); to a double's rounding on SQLite."""
        if self.name == "postgresql":
            return a == b
        return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))
