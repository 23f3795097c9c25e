"""What a value must be for every backend to store it: the limits of the columns, as numbers.

SQLite stores almost anything; PostgreSQL refuses a NUL character in any text or JSON value,
a ``varchar(255)`` longer than 255 characters, an ``integer`` beyond 2^31 - 1 and a
``numeric(18, 10)`` of 10^8 or more. A value one backend takes and the other refuses would make
the same request succeed on one deployment and fail on the next, so the services check every
value against these bounds, the narrower of the two backends, before it reaches a query.

The checks here are pure (no I/O); each returns the problem as a phrase for a message, or
``None`` when the value fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_MONEY",
    "findable",
    "json_problem",
    "text_problem",
]

#: Ids, aliases, e-mails and names (``String(255)`` columns; LiteLLM allows up to 255 too).
MAX_ID_LENGTH = 255
#: Rate limits and counts (``Integer`` columns: 32 bits on PostgreSQL).
MAX_COUNT = 2**31 - 1
#: USD amounts (``Numeric(18, 10)``: eight digits before the point).
MAX_MONEY = 99_999_999
#: JSON documents (metadata, members): deep enough for any real use, far below what the JSON
#: encoders refuse (orjson stops at 254 levels, PostgreSQL's jsonb parser at a few thousand).
MAX_JSON_DEPTH = 32

_NUL = "\x00"


def text_problem(value: str, *, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Why ``value`` cannot be stored in a text column of ``max_length``, or ``None``."""
    if _NUL in value:
        return "must not contain the NUL character (\\u0000)"
    if len(value) > max_length:
        return f"must be at most {max_length} characters long"
    return None


def findable(value: str, *, max_length: int = MAX_ID_LENGTH) -> bool:
    """Whether a row could hold ``value``: a lookup of anything else finds nothing, without asking."""
    return text_problem(value, max_length=max_length) is None


def json_problem(value: Any) -> str | None:
    """Why the JSON document ``value`` cannot be stored (NUL in a string or key, too deep), or ``None``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _NUL in item:
                return "must not contain the NUL character (\\u0000) in any string"
            continue
        if isinstance(item, Mapping | list | tuple):
            if depth > MAX_JSON_DEPTH:
                return f"must not be nested more than {MAX_JSON_DEPTH} levels deep"
            if isinstance(item, Mapping):
                for key, inner in item.items():
                    if isinstance(key, str) and _NUL in key:
                        return "must not contain the NUL character (\\u0000) in any key"
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return None
