"""Many rows into one table with a statement whose text never changes, on PostgreSQL and SQLite.

SQLAlchemy sends an executemany with ``RETURNING`` as multi-row ``VALUES`` pages: a batch of 500
spend logs becomes one statement with 15,000 parameters whose text depends on the batch size. The
database parses and plans a new statement for nearly every batch, the client renders and binds every
parameter one by one, and the drivers' statement caches fill with these giants (on SQLite that was
~1.6 KiB of memory per request, never given back). Here the whole batch travels as ONE JSON text
parameter, encoded by orjson in a single call, and the database unpacks it itself
(``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite): one statement, prepared once per
connection, whatever the batch size, and almost no per-row work on the client.

:func:`member_of` is the same idea for ``column IN (...)`` lists: one array (PostgreSQL) or JSON
(SQLite) parameter instead of one parameter per value.

Timestamps travel as Unix seconds (a float is exact to well under a microsecond for centuries
around now) and the database turns them into its own form, which saves the client three datetime
conversions a row; amounts go as exact decimal text (PostgreSQL) or the float SQLite keeps.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Select,
    Table,
    TextClause,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import String

from bastion.store._dialects import text_array
from bastion.store._types import JsonDocument, Money, UtcDateTime, to_money

__all__ = ["RecordsetInsert", "member_of"]

_Convert = Callable[[Any], Any]


class RecordsetInsert:
    """PostgreSQL: ``INSERT ... SELECT ... FROM jsonb_to_recordset(:rows) ON CONFLICT (key) DO
    NOTHING`` (``RETURNING key`` only when asked); SQLite: one single-row ``INSERT ... ON CONFLICT
    (key) DO NOTHING``, executemany.

    Without ``RETURNING`` the result's ``rowcount`` says how many rows were new: a writer that
    needs to know which ones can take the rows themselves when it equals the batch's size, and
    ask again with ``RETURNING`` (a replayed batch) only when it does not."""

    def __init__(
        self, table: Table, key: Column[Any], *, columns: Sequence[Column[Any]] | None = None
    ) -> None:
        """``columns``: the columns the rows carry (default: all); the others get their defaults."""
        self._table = table
        self._key = key
        self._columns = list(table.columns if columns is None else columns)
        self._statements: dict[tuple[str, bool], TextClause] = {}
        self._converters: dict[str, list[tuple[str, _Convert]]] = {}
        self._sqlite: str | None = None
        self._sqlite_plan: _SqlitePlan | None = None

    def statement(self, dialect: Dialect, *, returning: bool = False) -> TextClause:
        """PostgreSQL's one statement; takes ``:rows`` (:meth:`parameters`). ``returning``: the
        statement returns the keys of the rows it inserted."""
        found = self._statements.get((dialect.name, returning))
        if found is None:
            found = self._statements[(dialect.name, returning)] = self._build(dialect, returning)
        return found

    def parameters(self, rows: Sequence[Mapping[str, Any]], dialect: Dialect) -> dict[str, str]:
        """The batch as one JSON array of objects, values as the columns read them. Times may be
        aware datetimes or Unix seconds."""
        converters = self._converters.get(dialect.name)
        if converters is None:
            converters = self._converters[dialect.name] = [
                (column.name, convert)
                for column in self._columns
                if (convert := _converter(column, dialect.name)) is not None
            ]
        if converters:
            converted = []
            for row in rows:
                out = dict(row)
                for name, convert in converters:
                    value = out.get(name)
                    if value is not None:
                        out[name] = convert(value)
                converted.append(out)
            rows = converted
        return {"rows": orjson.dumps(rows).decode()}

    def sqlite_statement(self) -> str:
        """SQLite's one statement: a single-row ``INSERT`` run with ``executemany`` (SQLite prepares
        it once and binds each row in C; it has no RETURNING here, see :meth:`sqlite_parameters`)."""
        if self._sqlite is None:
            names = ", ".join(f'"{column.name}"' for column in self._columns)
            values = ", ".join(
                _sqlite_time(f"?{n}") if _is_time(column) else f"?{n}"
                for n, column in enumerate(self._columns, start=1)
            )
            self._sqlite = (
                f'INSERT INTO "{self._table.name}" ({names}) VALUES ({values}) '
                f'ON CONFLICT ("{self._key.name}") DO NOTHING'
            )
        return self._sqlite

    def sqlite_parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """One tuple per row for :meth:`sqlite_statement`: amounts rounded as stored, times as Unix
        seconds (SQLite writes SQLAlchemy's text form), JSON documents as text. Runs on the event
        loop: the values are taken in one C call per row, and only the few columns that need it
        are converted."""
        plan = self._sqlite_plan
        if plan is None:
            plan = self._sqlite_plan = _SqlitePlan(self._columns)
        take, names, converts = plan.take, plan.names, plan.converts
        out: list[tuple[Any, ...]] = []
        for row in rows:
            try:
                values = list(take(row))
            except KeyError:  # a row without some columns: they are NULL
                values = [row.get(name) for name in names]
            for index, convert in converts:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            out.append(tuple(values))
        return out

    def _build(self, dialect: Dialect, returning: bool) -> TextClause:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(column.name) for column in self._columns)
        key = quote(self._key.name)
        table = quote(self._table.name)
        tail = f"ON CONFLICT ({key}) DO NOTHING" + (f" RETURNING {key}" if returning else "")
        if dialect.name == "postgresql":
            type_name = dialect.type_compiler_instance.process
            types = [
                "double precision" if _is_time(c) else type_name(c.type.dialect_impl(dialect))
                for c in self._columns
            ]
            shape = ", ".join(f"{quote(c.name)} {kind}" for c, kind in zip(self._columns, types, strict=True))
            values = ", ".join(
                f"to_timestamp({quote(c.name)})" if _is_time(c) else quote(c.name) for c in self._columns
            )
            source = f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({shape})"
            return text(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source} {tail}")
        raise NotImplementedError(f"no bulk insert for {dialect.name}")


class _SqlitePlan:
    """How :meth:`RecordsetInsert.sqlite_parameters` reads a row: every column's value at once,
    then the converters of the columns that have one, by position."""

    def __init__(self, columns: Sequence[Column[Any]]) -> None:
        self.names = [column.name for column in columns]
        getter = operator.itemgetter(*self.names)
        # itemgetter of one name gives the value itself, not a 1-tuple
        self.take: Callable[[Mapping[str, Any]], Any] = (
            getter if len(self.names) > 1 else lambda row: (getter(row),)
        )
        self.converts = [
            (index, convert)
            for index, column in enumerate(columns)
            if (convert := _sqlite_converter(column)) is not None
        ]


def _is_time(column: Column[Any]) -> bool:
    return isinstance(column.type, UtcDateTime)


def _sqlite_time(seconds: str) -> str:
    """SQL turning Unix seconds into SQLAlchemy's 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC), exact
    to the microsecond."""
    micros = f"CAST(round({seconds} * 1000000) AS INTEGER)"
    return (
        f"CASE WHEN {seconds} IS NULL THEN NULL ELSE strftime('%Y-%m-%d %H:%M:%S', {micros} / 1000000, "
        f"'unixepoch') || printf('.%06d', {micros} % 1000000) END"
    )


def _sqlite_converter(column: Column[Any]) -> _Convert | None:
    kind = column.type
    if isinstance(kind, Money):
        return _money_float
    if isinstance(kind, UtcDateTime):
        return _seconds
    if isinstance(kind, JSON | JsonDocument):
        return _json_text
    return None


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def member_of(column: ColumnElement[Any], values: Collection[str], dialect: Dialect) -> ColumnElement[bool]:
    """``column IN values`` with one parameter whatever the number of values (text values)."""
    ordered = sorted(values)
    if dialect.name == "postgresql":
        return column == any_(bindparam("member_values", ordered, type_=text_array()))
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam("member_values", orjson.dumps(ordered).decode(), type_=String))
    )
    return column.in_(listed.scalar_subquery())


def _converter(column: Column[Any], dialect: str) -> _Convert | None:
    kind = column.type
    if isinstance(kind, Money):
        # Exact: rounded here as the stored totals are, then read as numeric (a float on SQLite).
        return _money_text if dialect == "postgresql" else _money_float
    if isinstance(kind, UtcDateTime):
        return _seconds  # the database turns Unix seconds into its timestamp
    return None


def _money_text(value: Any) -> str:
    return str(to_money(value))


def _money_float(value: Any) -> float:
    return float(to_money(value))


def _seconds(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
