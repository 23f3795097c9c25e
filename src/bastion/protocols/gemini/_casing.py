"""Reading Gemini JSON whose keys may be camelCase or snake_case.

The REST API documents camelCase, but its proto JSON mapping also takes snake_case, and the
google-genai SDK sends a mix (``inlineData`` holding ``mime_type``, ``thinkingConfig`` holding
``thinking_budget``). Decoders therefore look a key up under both spellings.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError


def pick(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """The value under ``camel``, else under ``snake``, else ``None``."""
    value = obj.get(camel)
    if value is None:
        value = obj.get(snake)
    return value


def to_camel(key: str) -> str:
    """``safety_settings`` -> ``safetySettings``; camelCase keys are returned unchanged."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def expect_dict(value: Any, param: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else a 400 naming ``param``."""
    if not isinstance(value, dict):
        raise InvalidRequestError(f"'{param}' must be an object.", param=param)
    return value


def expect_list(value: Any, param: str) -> list[Any]:
    """``value`` if it is a JSON array, else a 400 naming ``param``."""
    if not isinstance(value, list):
        raise InvalidRequestError(f"'{param}' must be an array.", param=param)
    return value


def expect_str(value: Any, param: str) -> str:
    """``value`` if it is a string, else a 400 naming ``param``."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{param}' must be a string.", param=param)
    return value
