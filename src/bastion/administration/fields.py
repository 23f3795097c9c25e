"""Typed, bounded reads of the fields of an administration request, whatever surface sent it.

The management API hands over its JSON body; the dashboard and the CLI hand over their text turned
into the same shape (:mod:`bastion.administration.text_input`). A wrong type or value is a 400 that
names the field; a field that is absent or ``null`` reads as ``None`` (LiteLLM drops ``null``
fields before applying an update, so ``null`` means "unchanged"). Every value is checked against
what both database backends can store (:mod:`bastion.store.bounds`): a NUL character, a number
beyond a column's range or a string longer than its column is refused here, with a message,
instead of failing in the database. Values themselves never appear in messages: a field could
hold a key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bastion.domain.errors import InvalidRequestError
from bastion.limits.durations import Duration, parse_duration
from bastion.store.bounds import MAX_COUNT, MAX_ID_LENGTH, MAX_MONEY, json_problem, text_problem

__all__ = ["MAX_LIST_ITEMS", "Fields", "checked_time", "invalid"]

#: Model lists, team lists and the like: more than this is a mistake, not a configuration.
MAX_LIST_ITEMS = 1000

T = TypeVar("T")


class Fields:
    """The fields of one request body."""

    __slots__ = ("data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def given(self, name: str) -> bool:
        """Whether ``name`` was sent with a value other than ``null``."""
        return self.data.get(name) is not None

    def text(self, name: str, *, max_length: int = MAX_ID_LENGTH) -> str | None:
        """A non-empty string a text column can hold."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise invalid(name, "a non-empty string")
        problem = text_problem(value, max_length=max_length)
        if problem is not None:
            raise InvalidRequestError(f"{name} {problem}.", param=name)
        return value

    def count(self, name: str) -> int | None:
        """A whole number from 0 to :data:`MAX_COUNT` (``10.0`` is accepted, as pydantic does)."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise invalid(name, f"a whole number from 0 to {MAX_COUNT}")
        return value

    def money(self, name: str) -> float | None:
        """A USD amount from 0 to :data:`MAX_MONEY`."""
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise invalid(name, "a number")
        if value < 0:
            raise InvalidRequestError(f"{name} cannot be negative.", param=name)
        if value > MAX_MONEY:
            raise InvalidRequestError(f"{name} must be at most {MAX_MONEY:,} (USD).", param=name)
        return float(value)

    def flag(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise invalid(name, "true or false")
        return value

    def names(self, name: str) -> tuple[str, ...] | None:
        """A list of strings (model names, team ids, ...), each one a text column can hold."""
        value = self._list(name, lambda item: isinstance(item, str) and bool(item), "non-empty strings")
        if value is None:
            return None
        for item in value:
            problem = text_problem(item)
            if problem is not None:
                raise InvalidRequestError(f"Each of {name} {problem}.", param=name)
        return tuple(value)

    def mapping(self, name: str) -> dict[str, Any] | None:
        """A JSON object both backends can store (no NUL, not nested too deep)."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(name, "a JSON object")
        _check_document(name, value)
        return value

    def objects(self, name: str) -> list[dict[str, Any]] | None:
        """A list of JSON objects both backends can store."""
        value = self._list(name, lambda item: isinstance(item, dict), "JSON objects")
        if value is None:
            return None
        _check_document(name, value)
        return value

    def _list(self, name: str, fits: Callable[[Any], bool], items: str) -> list[Any] | None:
        """A JSON list of at most :data:`MAX_LIST_ITEMS` items that each ``fits``."""
        value = self.data.get(name)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) > MAX_LIST_ITEMS
            or not all(fits(item) for item in value)
        ):
            raise invalid(name, f"a list of at most {MAX_LIST_ITEMS} {items}")
        return value

    def duration(self, name: str) -> Duration | None:
        """A LiteLLM duration (``30s``, ``10m``, ``24h``, ``30d``, ``1mo``), parsed."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_duration(value.strip())
        except InvalidRequestError as err:
            raise InvalidRequestError(f"{name}: {err.message}", param=name, code=err.code) from None


def checked_time(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` (a moment a duration leads to); a 400 when it falls beyond the calendar."""
    try:
        return compute()
    except (OverflowError, ValueError):
        raise InvalidRequestError(f"{name} is too long: it ends after the year 9999.", param=name) from None


def invalid(name: str, expected: str) -> InvalidRequestError:
    """The refusal of a field whose value is not ``expected``."""
    return InvalidRequestError(f"{name} must be {expected}.", param=name)


def _check_document(name: str, value: Any) -> None:
    problem = json_problem(value)
    if problem is not None:
        raise InvalidRequestError(f"{name} {problem}.", param=name)
