"""``GET /v1beta/models`` in Gemini's shape (also ``/v1/models`` for a Google client)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from bastion.protocols.surface import ListedModel

__all__ = ["claims", "encode_models"]

_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def claims(headers: Mapping[str, str]) -> bool:
    """Whether the request comes from a Google client (by the headers its SDKs send)."""
    return "x-goog-api-client" in headers or "x-goog-api-key" in headers


def encode_models(models: Sequence[ListedModel]) -> bytes:
    found = []
    for model in models:
        entry: dict[str, Any] = {
            "name": f"models/{model.name}",
            "displayName": model.name,
            "supportedGenerationMethods": list(_METHODS),
        }
        if model.max_input_tokens:
            entry["inputTokenLimit"] = model.max_input_tokens
        if model.max_output_tokens:
            entry["outputTokenLimit"] = model.max_output_tokens
        found.append(entry)
    return orjson.dumps({"models": found})
