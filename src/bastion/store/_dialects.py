"""The dialect-specific pieces of the store, each dialect imported when it is used: a SQLite
gateway never loads SQLAlchemy's PostgreSQL dialect (with asyncpg's adapter, about a tenth of
``bastion serve``'s start-up); a PostgreSQL one has it loaded by its engine already."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Index

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table, TextClause
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
    from sqlalchemy.sql.base import _DialectArgDict
    from sqlalchemy.types import TypeEngine

__all__ = ["PartialIndex", "insert_into", "text_array"]


class PartialIndex(Index):
    """An index of the rows matching ``where``, on SQLite and on PostgreSQL alike.

    ``Index(..., postgresql_where=...)`` would import the PostgreSQL dialect to check the option
    when the schema module loads; this gives PostgreSQL its ``where`` when something (its DDL
    compiler, Alembic's comparison) first asks for that dialect's options.
    """

    def __init__(
        self, name: str, *expressions: Any, where: ColumnElement[bool] | TextClause, **options: Any
    ) -> None:
        self._where = where
        super().__init__(name, *expressions, sqlite_where=where, **options)

    # A classmethod upstream, which ``dialect_options`` calls through the instance: per instance
    # here, since each index has its own predicate (tests/unit/store/test_partial_index.py).
    def _kw_reg_for_dialect_cls(self, dialect_name: str) -> _DialectArgDict:  # type: ignore[override]
        options = super()._kw_reg_for_dialect_cls(dialect_name)
        if dialect_name == "postgresql":
            options["where"] = self._where
        return options


def insert_into(table: Table, dialect_name: str) -> PostgresInsert | SqliteInsert:
    """``INSERT INTO table`` with the dialect's ``ON CONFLICT`` clauses (PostgreSQL or SQLite)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgres_insert

        return postgres_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def text_array() -> TypeEngine[Any]:
    """PostgreSQL's ``text[]``."""
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.types import String

    return ARRAY(String)
