"""Many rows into one PostgreSQL table with a statement whose text never changes.

SQLAlchemy sends an executemany with ``RETURNING`` as multi-row ``VALUES`` pages: a batch of 500
spend logs becomes one statement with 15,000 parameters whose text depends on the batch size, so
PostgreSQL parses and plans a new statement for nearly every batch, and the client renders and
binds every parameter one by one. Here the whole batch travels as ONE ``jsonb`` parameter, encoded
by orjson in a single call, and PostgreSQL unpacks it with ``jsonb_to_recordset``: one statement,
prepared once per connection, whatever the batch size, and almost no per-row work on the client
(timestamps and amounts go as text, which PostgreSQL reads exactly).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Table, TextClause, text
from sqlalchemy.engine import Dialect

from bastion.store._types import Money, UtcDateTime, to_money

__all__ = ["RecordsetInsert"]


class RecordsetInsert:
    """``INSERT ... SELECT ... FROM jsonb_to_recordset(:rows) ON CONFLICT (key) DO NOTHING RETURNING key``."""

    def __init__(
        self, table: Table, key: Column[Any], *, columns: Sequence[Column[Any]] | None = None
    ) -> None:
        """``columns``: the columns the rows carry (default: all); the others get their defaults."""
        self._table = table
        self._key = key
        self._columns = list(table.columns if columns is None else columns)
        self._statement: TextClause | None = None
        self._converters: list[tuple[str, Callable[[Any], Any]]] = [
            (column.name, convert) for column in self._columns if (convert := _converter(column)) is not None
        ]

    def statement(self, dialect: Dialect) -> TextClause:
        if self._statement is None:
            quote = dialect.identifier_preparer.quote
            type_name = dialect.type_compiler_instance.process
            columns = self._columns
            names = ", ".join(quote(column.name) for column in columns)
            shape = ", ".join(
                f"{quote(column.name)} {type_name(column.type.dialect_impl(dialect))}" for column in columns
            )
            key = quote(self._key.name)
            self._statement = text(
                f"INSERT INTO {quote(self._table.name)} ({names}) SELECT {names} "
                f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({shape}) "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
            )
        return self._statement

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The batch as one JSON array of objects, values as the columns read them."""
        if self._converters:
            converted = []
            for row in rows:
                out = dict(row)
                for name, convert in self._converters:
                    value = out.get(name)
                    if value is not None:
                        out[name] = convert(value)
                converted.append(out)
            rows = converted
        return {"rows": orjson.dumps(rows).decode()}


def _converter(column: Column[Any]) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, Money):
        return _money_text  # exact: rounded here as the stored totals are, then read as numeric
    if isinstance(kind, UtcDateTime):
        return _time_text  # exact to the microsecond, unlike a float of Unix seconds
    return None


def _money_text(value: Any) -> str:
    return str(to_money(value))


def _time_text(value: datetime) -> str:
    return value.isoformat()
