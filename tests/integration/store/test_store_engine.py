"""The engine: SQLite connection settings, and unreachable databases reported as 503 errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from bastion.store import Database, StoreUnavailableError, create_store_engine


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    """Every SQLite connection has WAL, foreign keys on and a busy timeout; the directory is made."""
    path = tmp_path / "nested" / "dir" / "bastion.db"

    async def main() -> list[object]:
        engine = create_store_engine(None, default_path=path)
        try:
            async with engine.connect() as conn:
                return [
                    (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "foreign_keys", "busy_timeout")
                ]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == ["wal", 1, 10_000]
    assert path.exists()


def test_unreachable_postgres_is_store_unavailable() -> None:
    """A refused connection becomes a 503 StoreUnavailableError; the host stays out of the message."""

    async def main() -> StoreUnavailableError:
        with pytest.raises(StoreUnavailableError) as raised:
            await Database.open("postgresql://postgres@127.0.0.1:1/test", default_path="unused.db")
        return raised.value

    error = asyncio.run(main())
    assert error.status == 503 and error.retryable
    assert "127.0.0.1" not in error.message and error.detail


def test_repository_call_on_unreachable_database_is_store_unavailable() -> None:
    """Reads and writes on a database that is down raise StoreUnavailableError, not driver errors."""

    async def main() -> list[str]:
        database = await Database.open(
            "postgresql://postgres@127.0.0.1:1/test", default_path="unused.db", migrate=False
        )
        kinds = []
        try:
            for call in (database.ping, lambda: database.keys.get("x"), lambda: database.teams.delete("t")):
                with pytest.raises(StoreUnavailableError) as raised:
                    await call()
                kinds.append(raised.value.code or "")
        finally:
            await database.close()
        return kinds

    assert asyncio.run(main()) == ["database_unavailable"] * 3


def test_unopenable_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    """A SQLite path that cannot be opened (here: a directory) is reported as unavailable."""
    (tmp_path / "db-is-a-dir").mkdir()

    async def main() -> None:
        try:
            await Database.open(None, default_path=tmp_path / "db-is-a-dir")
        finally:
            # aiosqlite stops the worker of a failed connection without awaiting it; let it finish
            # while this loop still runs, or it reports to a closed loop from its thread.
            for thread in threading.enumerate():
                if thread.name.endswith("(_connection_worker_thread)"):
                    await asyncio.to_thread(thread.join, 5)

    with pytest.raises(StoreUnavailableError):
        asyncio.run(main())
