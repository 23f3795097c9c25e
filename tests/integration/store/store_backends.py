"""The two backends of the store suite: a SQLite file and a schema on the local PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg

from bastion.store import Database

T = TypeVar("T")

POSTGRES_DSN = "postgresql://postgres:root@127.0.0.1:5432/test"
_UNREACHABLE = "PostgreSQL not reachable at 127.0.0.1:5432; CI would fail here"
_reachable: dict[str, str | None] = {}


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


def postgres_problem() -> str | None:
    if "problem" not in _reachable:

        async def probe() -> None:
            connection = await asyncpg.connect(POSTGRES_DSN, timeout=2)
            await connection.close()

        try:
            asyncio.run(probe())
            _reachable["problem"] = None
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            _reachable["problem"] = f"{_UNREACHABLE} ({type(exc).__name__}: {exc})"
    return _reachable["problem"]


def drop_schema(schema: str) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_DSN, timeout=5)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())
