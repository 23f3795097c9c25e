"""Migrations: idempotent, safe to run concurrently, and equal to the schema module."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from store_backends import Backend

from bastion.store import Database, TeamRecord, apply_migrations, current_revision, head_revision, migrate
from bastion.store.schema import VERSION_TABLE, metadata


def test_migrate_twice_keeps_revision_and_rows(backend: Backend) -> None:
    """A second migration run is a no-op: same revision, rows untouched."""

    async def main() -> tuple[str | None, str | None, TeamRecord | None]:
        await migrate(backend.url, default_path=backend.default_path)
        database = await Database.open(backend.url, default_path=backend.default_path, migrate=False)
        try:
            await database.teams.create(TeamRecord("org"))
            before = await current_revision(database.engine)
            await apply_migrations(database.engine)
            await migrate(backend.url, default_path=backend.default_path)
            return before, await current_revision(database.engine), await database.teams.get("org")
        finally:
            await database.close()

    before, after, team = asyncio.run(main())
    assert before == after == head_revision()
    assert team is not None


def test_concurrent_migrations_both_succeed(backend: Backend) -> None:
    """Two migrators starting at once (two gateways booting) both finish at head."""

    async def main() -> str | None:
        await asyncio.gather(*(migrate(backend.url, default_path=backend.default_path) for _ in range(2)))
        database = await Database.open(backend.url, default_path=backend.default_path, migrate=False)
        try:
            return await current_revision(database.engine)
        finally:
            await database.close()

    assert asyncio.run(main()) == head_revision()


def test_migrated_database_matches_schema_module(backend: Backend) -> None:
    """Autogenerate finds no difference between the migrated database and schema.py."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        return list(compare_metadata(context, metadata))

    async def scenario(db: Database) -> list[Any]:
        async with db.engine.connect() as conn:
            return await conn.run_sync(compare)

    assert backend.run(scenario) == []


def test_unmigrated_database_has_no_revision(backend: Backend) -> None:
    """Before the first migration the database reports no revision."""

    async def scenario(db: Database) -> str | None:
        return await current_revision(db.engine)

    assert backend.run(scenario, migrate=False) is None


def test_the_shipped_head_is_read_without_alembic_and_matches_it() -> None:
    """Start-up skips importing Alembic when the database is at the head these files name."""
    from bastion.store.migrate import _shipped_head, head_revision

    assert _shipped_head() == head_revision()


def test_a_database_at_the_head_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    """A gateway restarting on an up-to-date database never imports Alembic (about 10 MiB)."""
    script = (
        "import asyncio, sys\n"
        "from bastion.store.database import Database\n"
        "async def main():\n"
        f"    db = await Database.open(None, default_path={str(tmp_path / 'b.db')!r})\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")
