"""Typed reads of management query strings: a wrong value is a 400 naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError

__all__ = ["query_flag", "query_int", "query_time", "required_query"]

_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Longer than any bound a query has (and than what ``int`` reads without a fuss).
_MAX_DIGITS = 20


def required_query(request: Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value:
        raise InvalidRequestError(f"Pass the '{name}' query parameter.", param=name)
    return value


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not _INTEGER.fullmatch(raw):
        raise _invalid(name, "a whole number")
    if len(raw) > _MAX_DIGITS or not low <= int(raw) <= high:
        raise InvalidRequestError(f"{name} must be between {low} and {high}.", param=name)
    return int(raw)


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
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid(name, "a date (YYYY-MM-DD) or an ISO 8601 time between the years 1 and 9999") from None


def _invalid(name: str, expected: str) -> InvalidRequestError:
    return InvalidRequestError(f"{name} must be {expected}.", param=name)
