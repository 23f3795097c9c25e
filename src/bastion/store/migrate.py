"""Applying the schema migrations from code: ``bastion migrate`` and ``bastion serve`` call this.

The Alembic configuration is built here (no ``alembic.ini`` at run time); the scripts live in the
package, ``bastion/store/migrations``. Migrating is idempotent, and on PostgreSQL two processes
starting at once take turns on an advisory lock, so only one of them changes the schema.
"""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bastion.store._transactions import reading, writing
from bastion.store.engine import SCHEMA_OPTION, create_store_engine
from bastion.store.schema import VERSION_TABLE

__all__ = ["alembic_config", "apply_migrations", "current_revision", "head_revision", "migrate"]

_SCRIPT_LOCATION = "bastion.store:migrations"
# Arbitrary but fixed: the key of the PostgreSQL advisory lock that serializes migrators.
_MIGRATION_LOCK = 0x0BA5_7104


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic configuration for Bastion's migrations (for ``command.*`` calls)."""
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    if database_url:
        # ConfigParser interpolation: a '%' in a password must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def migrate(database_url: str | None, *, default_path: str | os.PathLike[str]) -> None:
    """Bring the database at ``database_url`` (or the SQLite file) to the latest schema."""
    engine = create_store_engine(database_url, default_path=default_path, pool_size=1)
    try:
        await apply_migrations(engine)
    finally:
        await engine.dispose()


async def apply_migrations(engine: AsyncEngine) -> None:
    """Bring ``engine``'s database to the latest schema; a no-op when it is already there."""
    async with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            schema = engine.sync_engine.get_execution_options().get(SCHEMA_OPTION)
            if isinstance(schema, str):
                quoted = conn.dialect.identifier_preparer.quote_schema(schema)
                await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    async with reading(engine) as conn:
        return await conn.run_sync(_current)


def head_revision() -> str:
    """The latest revision shipped with this version of Bastion."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least the initial revision
    return head


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()
