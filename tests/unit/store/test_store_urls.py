"""What a database_url means: driver rewriting and the translation of LiteLLM-style parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.store._urls import DatabaseTarget, resolve_database_url


def resolve(url: str | None, path: str = "/data/bastion.db") -> DatabaseTarget:
    return resolve_database_url(url, default_path=path, connect_timeout=5.0)


def test_unset_url_is_the_sqlite_file_at_the_default_path(tmp_path: Path) -> None:
    """No database_url means aiosqlite on the default file, made absolute."""
    target = resolve(None, str(tmp_path / "x" / "b.db"))
    assert target.is_sqlite
    assert target.url.drivername == "sqlite+aiosqlite"
    assert target.url.database == str((tmp_path / "x" / "b.db").resolve())


def test_sqlite_url_gets_the_async_driver() -> None:
    """sqlite:///path is rewritten to sqlite+aiosqlite."""
    target = resolve("sqlite:////var/lib/bastion.db")
    assert target.url.drivername == "sqlite+aiosqlite" and target.url.database == "/var/lib/bastion.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p@db:5432/app", "postgres://u:p@db/app", "postgresql+psycopg2://u:p@db/app"],
)
def test_every_postgres_spelling_uses_asyncpg(url: str) -> None:
    """postgres://, postgresql:// and other drivers all become postgresql+asyncpg."""
    target = resolve(url)
    assert target.url.drivername == "postgresql+asyncpg"
    assert not target.is_sqlite and target.url.password == "p"


def test_prisma_and_libpq_parameters_are_translated() -> None:
    """schema, sslmode, connect_timeout, connection_limit and pgbouncer map to asyncpg options."""
    target = resolve(
        "postgresql://u:p@db/app?schema=tenant&sslmode=require&connect_timeout=3"
        "&connection_limit=4&pool_timeout=7&pgbouncer=true&application_name=gw"
    )
    assert dict(target.url.query) == {}
    assert target.schema == "tenant"
    assert target.connect_args["server_settings"] == {"application_name": "gw", "search_path": "tenant"}
    assert target.connect_args["ssl"] == "require" and target.connect_args["timeout"] == 3.0
    assert target.connect_args["prepared_statement_cache_size"] == 0
    assert target.engine_options == {"pool_size": 4, "pool_timeout": 7.0}


def test_password_is_hidden_in_descriptions() -> None:
    """describe() never shows the password."""
    description = resolve("postgresql://u:s3cret@db/app").describe()
    assert "s3cret" not in description and "db/app" in description


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u:p@db/app", "not supported"),
        ("postgresql://u:p@db/app?unknown=1", "'unknown'"),
        ("postgresql://u:p@db/app?connect_timeout=soon", "must be a number"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("not a url", "not a URL"),
    ],
)
def test_unusable_urls_are_config_errors(url: str, words: str) -> None:
    """A URL Bastion cannot use is refused at start-up with a message saying why."""
    with pytest.raises(ConfigError, match=words):
        resolve(url)
