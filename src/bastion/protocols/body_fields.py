"""Fields of an OpenAI-style JSON body, type-checked with a 400 naming the field: optional scalars,
and a tool call's ``arguments`` (a JSON object encoded as a string)."""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError

__all__ = ["call_arguments", "optional_bool", "optional_int", "optional_number", "optional_str"]


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


def call_arguments(raw: object, path: str, *, kind: str) -> dict[str, Any]:
    """A tool call's ``arguments`` at ``path``: a JSON object encoded as a string (the object itself,
    as some clients send it, is accepted; nothing or an empty string is ``{}``). ``kind`` names the
    call in the error ("tool-call", "function call")."""
    arguments: object
    if raw is None or raw == "":
        arguments = {}
    elif isinstance(raw, str):
        try:
            arguments = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidRequestError(
                f"'{path}.arguments' is not valid JSON; {kind} arguments must be a JSON object "
                "encoded as a string.",
                param=f"{path}.arguments",
            ) from None
    else:
        arguments = raw
    if not isinstance(arguments, dict):
        raise InvalidRequestError(f"'{path}.arguments' must encode a JSON object.", param=f"{path}.arguments")
    return arguments
