"""Typed reads of management request bodies and query strings.

A wrong type or value is a 400 that names the field; a field that is absent or ``null`` reads as
``None`` (LiteLLM drops ``null`` fields before applying an update, so ``null`` means "unchanged").
Values themselves never appear in messages: a field could hold a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError
from bastion.limits.durations import parse_duration

__all__ = ["Fields", "query_flag", "query_int", "query_time"]


class Fields:
    """The fields of one JSON body."""

    __slots__ = ("data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def given(self, name: str) -> bool:
        """Whether ``name`` was sent with a value other than ``null``."""
        return self.data.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _invalid(name, "a non-empty string")
        return value

    def count(self, name: str) -> int | None:
        """A whole number >= 0 (``10.0`` is accepted, as pydantic does)."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid(name, "a whole number >= 0")
        return value

    def money(self, name: str) -> float | None:
        """A USD amount >= 0."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise _invalid(name, "a number")
        if value < 0:
            raise InvalidRequestError(f"{name} cannot be negative.", param=name)
        return float(value)

    def flag(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise _invalid(name, "true or false")
        return value

    def names(self, name: str) -> tuple[str, ...] | None:
        """A list of strings (model names, team ids, ...)."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise _invalid(name, "a list of non-empty strings")
        return tuple(value)

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _invalid(name, "a JSON object")
        return value

    def objects(self, name: str) -> list[dict[str, Any]] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise _invalid(name, "a list of JSON objects")
        return value

    def duration(self, name: str) -> str | None:
        """A LiteLLM duration (``30s``, ``10m``, ``24h``, ``30d``, ``1mo``), checked."""
        value = self.text(name)
        if value is None:
            return None
        try:
            parse_duration(value)
        except InvalidRequestError as err:
            raise InvalidRequestError(f"{name}: {err.message}", param=name, code=err.code) from None
        return value.strip()


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "a whole number") from None
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low} and {high}.", param=name)
    return value


def query_flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise _invalid(name, "true or false")


def query_time(request: Request, name: str, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO 8601 time (UTC when it has no offset).

    A bare date as the ``end`` of a range includes that whole day, as people mean it
    (``start_date=2026-01-01&end_date=2026-01-31`` is all of January).
    """
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, "a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _invalid(name: str, expected: str) -> InvalidRequestError:
    return InvalidRequestError(f"{name} must be {expected}.", param=name)
