"""Column types that behave the same on SQLite and PostgreSQL.

- :class:`UtcDateTime`: always timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``;
  SQLite has no time zones, so naive UTC text is stored (its fixed-width format sorts correctly).
- :class:`Money`: USD as ``NUMERIC(18, 10)``, floats in Python. PostgreSQL does exact decimal
  arithmetic, so ``spend = spend + x`` and ``SUM(spend)`` agree to the last digit; SQLite has no
  decimal type and keeps doubles, which agree to ~1e-12 relative.
- :data:`JSON_DOCUMENT`: ``jsonb`` on PostgreSQL (indexable, compact), JSON text on SQLite; a
  Python ``None`` is SQL ``NULL``, not the JSON ``null``.

Nothing here imports SQLAlchemy's PostgreSQL dialect (with asyncpg's adapter, about a tenth of
``bastion serve``'s start-up): a PostgreSQL engine loads it, a SQLite gateway never does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSON_DOCUMENT", "MONEY_PLACES", "JsonDocument", "Money", "UtcDateTime", "to_money"]

#: Decimal places kept for USD amounts: a token priced at $0.01 per million tokens is 1e-8.
MONEY_PLACES = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)


class JsonDocument(TypeDecorator[Any]):
    """JSON, as ``jsonb`` on PostgreSQL (``with_variant(JSONB)`` would import that dialect)."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


JSON_DOCUMENT: TypeEngine[Any] = JsonDocument()


def to_money(value: float | Decimal) -> Decimal:
    """``value`` rounded to the stored precision, as PostgreSQL will keep it."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return exact.quantize(_QUANTUM)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC on the way in and on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[float]):
    """USD amounts: ``NUMERIC(18, 10)`` in the database, ``float`` in Python."""

    impl = Numeric(18, MONEY_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # Without a native decimal (SQLite) asking for Decimal results only adds a lossy
        # float -> Decimal step and a warning; plain floats are what SQLite stores anyway.
        if dialect.supports_native_decimal:
            return dialect.type_descriptor(Numeric(18, MONEY_PLACES, asdecimal=True))
        return dialect.type_descriptor(Numeric(18, MONEY_PLACES, asdecimal=False))

    def process_bind_param(self, value: float | Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        money = to_money(value)
        # Rounded on SQLite too, so both backends keep the same amounts.
        return money if dialect.supports_native_decimal else float(money)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)
