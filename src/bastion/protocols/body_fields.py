"""Optional scalar fields of an OpenAI-style JSON body, type-checked with a 400 naming the field."""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError

__all__ = ["optional_bool", "optional_int", "optional_number", "optional_str"]


def optional_int(body: dict[str, Any], key: str, *, positive: bool = False) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"'{key}' must be {'a positive' if positive else 'an'} integer.", param=key)
    if positive and value < 1:
        raise InvalidRequestError(f"'{key}' must be a positive integer.", param=key)
    return value


def optional_number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"'{key}' must be a number.", param=key)
    return float(value)


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"'{key}' must be a string.", param=key)
    return value


def optional_bool(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequestError(f"'{key}' must be true or false.", param=key)
    return value
