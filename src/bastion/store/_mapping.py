"""How records map to column values and back, and how change sets are checked.

Record fields carry the names of their columns, so one generic mapping serves every table: JSON
lists are tuples in records and lists in the database; JSON objects are plain dicts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row

__all__ = ["checked_changes", "record_from_row", "record_values"]

R = TypeVar("R")


def record_values(record: object) -> dict[str, Any]:
    """The column values of ``record``, ready for an INSERT."""
    return {name: _to_column(getattr(record, name)) for name in _field_names(type(record))}


def record_from_row(cls: type[R], row: Row[Any]) -> R:
    """A ``cls`` record built from the same-named columns of ``row`` (extra columns are ignored)."""
    mapping = row._mapping
    tuples = _tuple_fields(cls)
    values = {
        name: _to_tuple(mapping[name]) if name in tuples else mapping[name]
        for name in _field_names(cls)
        if name in mapping
    }
    return cls(**values)


def checked_changes(changes: Mapping[str, Any], allowed: Collection[str]) -> dict[str, Any]:
    """Column values for an UPDATE; a name outside ``allowed`` is a programming error."""
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValueError(f"fields that cannot be updated: {', '.join(unknown)}")
    return {name: _to_column(value) for name, value in changes.items()}


_PLAIN = frozenset({str, int, float, bool, type(None), dict, datetime})


def _to_column(value: Any) -> Any:
    if type(value) in _PLAIN:  # nearly every value: skip the abstract-class checks below
        return value
    if isinstance(value, tuple):
        return [_to_column(item) for item in value]
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if value is not None else ()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_TUPLE_FIELDS: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _tuple_fields(cls: type) -> frozenset[str]:
    names = _TUPLE_FIELDS.get(cls)
    if names is None:
        # Annotations are strings under ``from __future__ import annotations``.
        names = frozenset(f.name for f in fields(cls) if str(f.type).startswith("tuple["))
        _TUPLE_FIELDS[cls] = names
    return names
