"""Gemini's OpenAPI-subset ``Schema`` turned into plain JSON schema.

``functionDeclarations[].parameters`` and ``generationConfig.responseSchema`` use Gemini's own
``Schema`` object: upper-case type names (``OBJECT``), ``nullable``, ``propertyOrdering``, and
snake_case keywords when sent by the SDK. The canonical form holds JSON schema (what
``parametersJsonSchema`` / ``responseJsonSchema`` carry), so those are converted on the way in.
Encoders always send JSON schema through the ``*JsonSchema`` fields, which take it unchanged.
"""

from __future__ import annotations

from typing import Any

from bastion.protocols.gemini._casing import to_camel

# Keywords of Gemini's Schema with no JSON-schema meaning; dropped rather than passed on to a
# provider whose validator may reject unknown keywords.
_DROP = frozenset({"propertyOrdering", "nullable", "example"})


def to_json_schema(schema: Any) -> Any:
    """Convert a Gemini ``Schema`` (possibly snake_case, upper-case types) to JSON schema."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for raw_key, value in schema.items():
        key = to_camel(raw_key)
        if key in _DROP:
            continue
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = to_json_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out["anyOf"] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if (schema.get("nullable") is True) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
