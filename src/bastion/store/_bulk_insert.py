"""Many rows into one PostgreSQL table with a statement whose text never changes.

SQLAlchemy sends an executemany with ``RETURNING`` as multi-row ``VALUES`` pages: a batch of 500
spend logs becomes one statement with 15,000 parameters whose text depends on the batch size, so
PostgreSQL parses and plans a new statement for nearly every batch, and the client renders and
binds every parameter one by one. Here each column travels as one array and the rows come back
out of ``unnest``: one statement, prepared once per connection and cached, whatever the batch
size; the arrays are encoded by asyncpg in C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Table, TextClause, text
from sqlalchemy.engine import Dialect

from bastion.store._types import Money, to_money

__all__ = ["UnnestInsert"]


class UnnestInsert:
    """``INSERT ... SELECT * FROM unnest(...) ON CONFLICT (key) DO NOTHING RETURNING key``."""

    def __init__(
        self, table: Table, key: Column[Any], *, columns: Sequence[Column[Any]] | None = None
    ) -> None:
        """``columns``: the columns the rows carry (default: all); the others get their defaults."""
        self._table = table
        self._key = key
        self._columns = list(table.columns if columns is None else columns)
        self._statement: TextClause | None = None
        self._converters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (column.name, _converter(column)) for column in self._columns
        ]

    def statement(self, dialect: Dialect) -> TextClause:
        if self._statement is None:
            quote = dialect.identifier_preparer.quote
            type_name = dialect.type_compiler_instance.process
            columns = self._columns
            arrays = ", ".join(
                f"CAST(:c{i} AS {type_name(column.type.dialect_impl(dialect))}[])"
                for i, column in enumerate(columns)
            )
            names = ", ".join(quote(column.name) for column in columns)
            key = quote(self._key.name)
            self._statement = text(
                f"INSERT INTO {quote(self._table.name)} ({names}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
            )
        return self._statement

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """One array per column, in the driver's terms (what the column types would bind)."""
        out: dict[str, list[Any]] = {}
        for i, (name, convert) in enumerate(self._converters):
            values = [row[name] for row in rows]
            if convert is not None:
                values = [None if value is None else convert(value) for value in values]
            out[f"c{i}"] = values
        return out


def _converter(column: Column[Any]) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, Money):
        return to_money
    if isinstance(kind, JSON):  # jsonb on PostgreSQL (a variant of JSON)
        return _json_text
    return None


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
