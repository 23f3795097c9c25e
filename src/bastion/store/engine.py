"""The database engine: SQLite (WAL) by default, PostgreSQL (asyncpg) when the URL says so.

Every SQLite connection gets WAL journaling (readers never block the writer), foreign keys on
and a busy timeout. pysqlite's own transaction handling is switched off so that Bastion emits
``BEGIN IMMEDIATE`` for writes: a write transaction takes the write lock when it starts and waits
for it under the busy timeout, instead of failing with ``SQLITE_BUSY`` when it upgrades a read
lock half way through. PostgreSQL connections are pooled and pinged on checkout, so a restarted
server costs one failed ping, not a failed request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio.engine import AsyncEngine, create_async_engine

from bastion.store._transactions import WRITE_OPTION, reading
from bastion.store._urls import DatabaseTarget, resolve_database_url

__all__ = ["SCHEMA_OPTION", "create_store_engine", "describe_engine", "ping"]

#: Execution option carrying the PostgreSQL schema of ``?schema=``, which migrations create.
SCHEMA_OPTION = "bastion_schema"

_SQLITE_BUSY_TIMEOUT_MS = 10_000
_SQLITE_PRAGMAS = (
    # First: switching to WAL takes a lock, and without a busy timeout a second process (or a
    # concurrent migrator) opening a new database at the same moment fails with "database is locked".
    f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    # Durable across process crashes in WAL mode; only an OS crash can lose the last commits.
    "PRAGMA synchronous=NORMAL",
)


def create_store_engine(
    database_url: str | None,
    *,
    default_path: str | os.PathLike[str],
    pool_size: int = 10,
    connect_timeout: float = 5.0,
    echo: bool = False,
) -> AsyncEngine:
    """An engine for ``database_url``, or for the SQLite file ``default_path`` when it is unset.

    Creating the engine does not connect; the first query does, and raises
    :class:`~bastion.store.errors.StoreUnavailableError` if the database cannot be reached.
    Raises :class:`~bastion.domain.errors.ConfigError` for a URL Bastion cannot use.
    """
    target = resolve_database_url(database_url, default_path=default_path, connect_timeout=connect_timeout)
    options: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _dump_json,
        "json_deserializer": orjson.loads,
    }
    if target.is_sqlite:
        return _sqlite_engine(target, options)
    options.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=10.0, pool_pre_ping=True)
    options.update(target.engine_options)
    if target.schema:
        options["execution_options"] = {SCHEMA_OPTION: target.schema}
    return create_async_engine(target.url, connect_args=target.connect_args, **options)


def describe_engine(engine: AsyncEngine) -> str:
    """The engine's URL with the password hidden."""
    return engine.url.render_as_string(hide_password=True)


async def ping(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raises :class:`~bastion.store.errors.StoreUnavailableError` on failure."""
    async with reading(engine) as conn:
        await conn.execute(text("SELECT 1"))


def _dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_engine(target: DatabaseTarget, options: dict[str, Any]) -> AsyncEngine:
    database = target.url.database
    assert database is not None  # _urls refuses SQLite URLs without a file
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target.url, **options)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # None = autocommit at the driver level: the "begin" hook below emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
