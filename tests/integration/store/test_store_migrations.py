"""Migrations: idempotent, safe to run concurrently, and equal to the schema module."""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


def test_due_migrations_are_applied_by_a_child_and_this_process_never_loads_alembic(backend: Backend) -> None:
    """``bastion serve``'s way: a child process applies what is due; the server stays without
    Alembic, and the next start finds the database at the head and asks no child."""
    script = (
        "import asyncio, sys\n"
        "from bastion.store.engine import create_store_engine\n"
        "from bastion.store.migrate import apply_migrations_aside, current_revision\n"
        "async def main():\n"
        "    url = sys.stdin.read() or None\n"
        "    engine = create_store_engine(url, default_path=sys.argv[1])\n"
        "    try:\n"
        "        applied = await apply_migrations_aside(engine, url, default_path=sys.argv[1])\n"
        "        loaded = 'alembic' in sys.modules\n"
        "        print(applied, await current_revision(engine) is not None, loaded)\n"
        "    finally:\n"
        "        await engine.dispose()\n"
        "asyncio.run(main())\n"
    )

    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, str(backend.default_path)],
            input=backend.url or "",
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    due = len(list((Path(__file__).parents[3] / "src/bastion/store/migrations/versions").glob("*.py")))
    assert start() == f"{due} True False"
    assert start() == "0 True False"


def test_the_database_url_never_reaches_the_childs_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL holds the database password: it goes to the child on stdin, not in ``ps`` output."""
    module = importlib.import_module("bastion.store.migrate")  # bastion.store.migrate is also a function

    seen: list[tuple[list[str], bytes]] = []

    def run(argv: list[str], *, input: bytes, **_: Any) -> subprocess.CompletedProcess[bytes]:
        seen.append((argv, input))
        return subprocess.CompletedProcess(argv, 0, b"0\n", b"")

    monkeypatch.setattr(module.subprocess, "run", run)
    url = "postgresql://bastion:s3cret-password@db.internal/bastion"
    assert module._migrate_in_child(url, str(tmp_path / "b.db")) == 0
    ((argv, given),) = seen
    assert not any("s3cret" in part for part in argv)
    assert given == url.encode()


def test_without_a_usable_child_the_migrations_run_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("bastion.store.migrate")  # bastion.store.migrate is also a function
    from bastion.store.engine import create_store_engine

    monkeypatch.setattr(module.sys, "executable", str(tmp_path / "no-python-here"))

    async def main() -> tuple[int, str | None]:
        engine = create_store_engine(None, default_path=tmp_path / "b.db")
        try:
            applied = await module.apply_migrations_aside(engine, None, default_path=tmp_path / "b.db")
            return applied, await current_revision(engine)
        finally:
            await engine.dispose()

    applied, revision = asyncio.run(main())
    assert applied > 0 and revision == head_revision()
