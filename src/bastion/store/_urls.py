"""What a ``database_url`` means: the async driver URL and the driver options it implies.

Accepted: nothing (the embedded SQLite file), ``sqlite:///path``, and ``postgresql://`` or
``postgres://`` with any driver suffix (rewritten to asyncpg). The query parameters LiteLLM users
already have in their ``DATABASE_URL`` (Prisma's and libpq's) are translated for asyncpg; an
unknown one is a configuration error rather than a failure at the first connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bastion.domain.errors import ConfigError

__all__ = ["DatabaseTarget", "resolve_database_url"]

_SQLITE = "sqlite+aiosqlite"
_POSTGRES = "postgresql+asyncpg"


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """An async driver URL plus the options for ``create_async_engine``."""

    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    engine_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema named by ``?schema=`` (Prisma's parameter), if any."""
        settings = self.connect_args.get("server_settings", {})
        value = settings.get("search_path")
        return value if isinstance(value, str) else None

    def describe(self) -> str:
        """The URL with the password hidden, fit for logs and error messages."""
        return self.url.render_as_string(hide_password=True)


def resolve_database_url(
    database_url: str | None, *, default_path: str | os.PathLike[str], connect_timeout: float
) -> DatabaseTarget:
    """The target for ``database_url``, or the SQLite file at ``default_path`` when it is unset."""
    if not database_url:
        return DatabaseTarget(URL.create(_SQLITE, database=str(Path(default_path).resolve())))
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(
            "database_url is not a URL; expected postgresql://user:password@host:5432/db "
            "or sqlite:///path/to/file.db"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite(url)
    if backend in ("postgresql", "postgres"):
        return _postgresql(url, connect_timeout)
    raise ConfigError(
        f"database_url scheme '{url.drivername}' is not supported; use postgresql:// or sqlite:///"
    )


def _sqlite(url: URL) -> DatabaseTarget:
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise ConfigError("database_url: in-memory SQLite is not supported; give a file path")
    if url.query:
        raise ConfigError("database_url: sqlite:/// URLs take no query parameters")
    return DatabaseTarget(url.set(drivername=_SQLITE))


def _postgresql(url: URL, connect_timeout: float) -> DatabaseTarget:
    server_settings: dict[str, str] = {"application_name": "bastion"}
    connect_args: dict[str, Any] = {"timeout": connect_timeout, "server_settings": server_settings}
    engine_options: dict[str, Any] = {}
    for name, raw in url.query.items():
        value = raw if isinstance(raw, str) else raw[-1]
        if name == "schema":
            server_settings["search_path"] = value
        elif name == "application_name":
            server_settings["application_name"] = value
        elif name in ("sslmode", "ssl"):
            # asyncpg takes libpq's sslmode names (disable, prefer, require, verify-full...).
            connect_args["ssl"] = value
        elif name == "connect_timeout":
            connect_args["timeout"] = _number(name, value)
        elif name == "command_timeout":
            connect_args["command_timeout"] = _number(name, value)
        elif name == "connection_limit":
            engine_options["pool_size"] = int(_number(name, value))
        elif name == "pool_timeout":
            engine_options["pool_timeout"] = _number(name, value)
        elif name == "pgbouncer":
            if value.lower() in ("1", "true", "yes"):
                # PgBouncer in transaction mode cannot keep prepared statements across calls.
                connect_args["prepared_statement_cache_size"] = 0
                connect_args["statement_cache_size"] = 0
        elif name == "prepared_statement_cache_size":
            connect_args[name] = int(_number(name, value))
        else:
            raise ConfigError(
                f"database_url: query parameter '{name}' is not supported; use schema, sslmode, "
                "connect_timeout, command_timeout, connection_limit, pool_timeout, pgbouncer or "
                "application_name"
            )
    target_url = url.set(drivername=_POSTGRES, query={})
    return DatabaseTarget(target_url, connect_args, engine_options)


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"database_url: '{name}' must be a number, not '{value}'") from None
