"""The Anthropic surface's endpoints: messages, count_tokens and the model listing for its SDK
(paths, schemas, errors)."""

from __future__ import annotations

from typing import Any

import orjson

from bastion.protocols.anthropic import models
from bastion.protocols.anthropic.wire import ANTHROPIC
from bastion.protocols.surface import (
    JSON_OR_SSE,
    LISTING_PATHS,
    MODEL,
    STREAM,
    ErrorEnvelope,
    Operation,
    SurfaceSpec,
    provider_body,
)

__all__ = ["COUNT_TOKENS_BODY", "ERRORS", "MESSAGES_BODY", "SURFACE"]

ERRORS = ErrorEnvelope(
    ANTHROPIC,
    "AnthropicError",
    {
        "type": "object",
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                "required": ["type", "message"],
            },
        },
        "required": ["type", "error"],
    },
)
MESSAGES_BODY = provider_body(
    "Anthropic Messages request",
    "https://docs.anthropic.com/en/api/messages",
    {
        "model": MODEL,
        "messages": {"type": "array", "items": {"type": "object"}},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
    optional={"stream": STREAM, "system": {}, "tools": {"type": "array"}},
)
COUNT_TOKENS_BODY = provider_body(
    "Anthropic count_tokens request",
    "https://docs.anthropic.com/en/api/messages-count-tokens",
    {"model": MODEL, "messages": {"type": "array", "items": {"type": "object"}}},
)

_MESSAGES = ("/v1/messages", "/messages", "/anthropic/v1/messages")


def _count_body(body: dict[str, Any]) -> dict[str, Any]:
    body.setdefault("max_tokens", 1)  # count_tokens takes none; the shared decoder requires it
    return body


def _count_answer(count: int) -> bytes:
    return orjson.dumps({"input_tokens": count})


SURFACE = SurfaceSpec(
    ANTHROPIC,
    ERRORS,
    "anthropic",
    (
        Operation("chat", _MESSAGES, "Anthropic messages", MESSAGES_BODY, JSON_OR_SSE),
        Operation(
            "count_tokens",
            tuple(path + "/count_tokens" for path in _MESSAGES),
            "Anthropic count_tokens",
            COUNT_TOKENS_BODY,
        ),
        Operation(
            "models",
            LISTING_PATHS,
            "Model groups the caller may use",
            method="GET",
            listing=models.encode_models,
        ),
    ),
    count_body=_count_body,
    count_answer=_count_answer,
    claims=models.claims,
)
