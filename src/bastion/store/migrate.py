"""Applying the schema migrations from code: ``bastion migrate`` and ``bastion serve`` call this.

The Alembic configuration is built here (no ``alembic.ini`` at run time); the scripts live in the
package, ``bastion/store/migrations``. Migrating is idempotent, and on PostgreSQL two processes
starting at once take turns on an advisory lock, so only one of them changes the schema.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._transactions import reading, writing
from bastion.store.engine import SCHEMA_OPTION, create_store_engine
from bastion.store.schema import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MigrationProgress",
    "alembic_config",
    "apply_migrations",
    "apply_migrations_aside",
    "current_revision",
    "head_revision",
    "migrate",
]

_log = logging.getLogger("bastion.store")
_CHILD_TIMEOUT = 600.0

_SCRIPT_LOCATION = "bastion.store:migrations"
# Arbitrary but fixed: the key of the PostgreSQL advisory lock that serializes migrators.
_MIGRATION_LOCK = 0x0BA5_7104
_VERSIONS = Path(__file__).parent / "migrations" / "versions"

#: Called before each migration is applied: (its position from 1, how many are due, its name).
MigrationProgress = Callable[[int, int, str], None]


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic configuration for Bastion's migrations (for ``command.*`` calls)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    if database_url:
        # ConfigParser interpolation: a '%' in a password must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def migrate(
    database_url: str | None,
    *,
    default_path: str | os.PathLike[str],
    progress: MigrationProgress | None = None,
) -> int:
    """Bring the database at ``database_url`` (or the SQLite file) to the latest schema; return
    how many migrations were applied."""
    engine = create_store_engine(database_url, default_path=default_path, pool_size=1)
    try:
        return await apply_migrations(engine, progress)
    finally:
        await engine.dispose()


async def apply_migrations(engine: AsyncEngine, progress: MigrationProgress | None = None) -> int:
    """Bring ``engine``'s database to the latest schema; a no-op when it is already there.
    Returns how many migrations were applied; ``progress`` hears of each before it runs."""
    async with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            schema = engine.sync_engine.get_execution_options().get(SCHEMA_OPTION)
            if isinstance(schema, str):
                quoted = conn.dialect.identifier_preparer.quote_schema(schema)
                await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
        # Alembic (about 10 MiB once imported) is loaded only when there is something to apply.
        head = _shipped_head()
        if head is not None and await conn.run_sync(_stored_revision) == head:
            return 0
        return await conn.run_sync(_upgrade, progress)


async def apply_migrations_aside(
    engine: AsyncEngine, database_url: str | None, *, default_path: str | os.PathLike[str]
) -> int:
    """:func:`apply_migrations` for a long-lived server: when migrations are due, a child process
    applies them, so this process never loads Alembic (about 10 MiB for as long as it runs); then
    the usual locked check runs here (a no-op at head). Should the child fail to run at all, the
    migrations are applied here. Returns how many the child applied (or this process)."""
    head = _shipped_head()
    if head is not None:
        async with reading(engine) as conn:
            if await conn.run_sync(_stored_revision) == head:
                return 0
    applied = await asyncio.to_thread(_migrate_in_child, database_url, str(default_path))
    return applied + await apply_migrations(engine)


def _migrate_in_child(database_url: str | None, default_path: str) -> int:
    # The URL (which may hold a password) goes through stdin, never the command line.
    argv = [sys.executable, "-m", __name__, default_path]
    _log.info("migrations are due: applying them in a child process")
    try:
        done = subprocess.run(
            argv,
            input=(database_url or "").encode(),
            capture_output=True,
            timeout=_CHILD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        _log.info("could not migrate in a child process (%s); migrating here", exc)
        return 0
    if done.returncode != 0:
        # A failed migration is not retried here blindly: the locked pass that follows meets the
        # same error and raises it, with its own message and traceback.
        _log.warning("migrating in a child process failed: %s", done.stderr.decode(errors="replace")[-2000:])
        return 0
    return int(done.stdout.decode().strip() or 0)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    async with reading(engine) as conn:
        return await conn.run_sync(_current)


def head_revision() -> str:
    """The latest revision shipped with this version of Bastion."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least the initial revision
    return head


def _upgrade(connection: Connection, progress: MigrationProgress | None = None) -> int:
    """Apply the due migrations one revision at a time (in the caller's transaction)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    current = _current(connection)
    due = list(reversed(list(script.iterate_revisions("head", current or "base"))))
    for position, revision in enumerate(due, start=1):
        if progress is not None:
            progress(position, len(due), f"{revision.revision} {revision.doc or ''}".strip())
        command.upgrade(config, revision.revision)
    return len(due)


def _current(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _stored_revision(connection: Connection) -> str | None:
    """The database's revision by plain SQL (``None`` before the first migration)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _shipped_head() -> str | None:
    """The newest revision among the package's migration files, read without importing Alembic.

    The revision no other file names as its ``down_revision``; ``None`` (let Alembic decide) when
    the files do not say it plainly.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in _VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision: str = "([^"]+)"$', source, flags=re.M)
        parent = re.search(r'^down_revision: str \| None = (?:"([^"]+)"|None)$', source, flags=re.M)
        if revision is None or parent is None:
            return None
        revisions.add(revision.group(1))
        if parent.group(1):
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


if __name__ == "__main__":  # the child of apply_migrations_aside: URL on stdin, count on stdout
    _url = sys.stdin.read() or None
    print(asyncio.run(migrate(_url, default_path=sys.argv[1])))
