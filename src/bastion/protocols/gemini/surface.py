"""The Gemini surface's endpoints: the model actions under ``/v1beta/models/{model}:...`` and the
model listing."""

from __future__ import annotations

from typing import Any

import orjson

from bastion.protocols.gemini import embeddings, models
from bastion.protocols.gemini.wire import GEMINI
from bastion.protocols.surface import (
    JSON,
    LISTING_PATHS,
    SSE,
    ErrorEnvelope,
    Operation,
    SurfaceSpec,
    provider_body,
)

__all__ = ["BODIES", "ERRORS", "SURFACE"]

ERRORS = ErrorEnvelope(
    GEMINI,
    "GeminiError",
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "status": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["code", "message", "status"],
            }
        },
        "required": ["error"],
    },
)
_GENERATE = provider_body(
    "Gemini GenerateContentRequest",
    "https://ai.google.dev/api/generate-content",
    {"contents": {"type": "array", "items": {"type": "object"}}},
    optional={"generationConfig": {"type": "object"}, "systemInstruction": {"type": "object"}},
)
BODIES: dict[str, dict[str, Any]] = {
    "generateContent": _GENERATE,
    "streamGenerateContent": _GENERATE,
    "countTokens": provider_body(
        "Gemini CountTokensRequest",
        "https://ai.google.dev/api/tokens",
        {},
        optional={"contents": {"type": "array"}, "generateContentRequest": {"type": "object"}},
    ),
    "embedContent": provider_body(
        "Gemini EmbedContentRequest", "https://ai.google.dev/api/embeddings", {"content": {"type": "object"}}
    ),
    "batchEmbedContents": provider_body(
        "Gemini BatchEmbedContentsRequest",
        "https://ai.google.dev/api/embeddings",
        {"requests": {"type": "array", "items": {"type": "object"}}},
    ),
}

_PREFIXES = ("/v1beta/models/", "/v1/models/", "/gemini/v1beta/models/")


def _action(kind: str, action: str, **options: Any) -> Operation:
    paths = tuple(f"{prefix}{{model:path}}:{action}" for prefix in _PREFIXES)
    produces = SSE if action == "streamGenerateContent" else JSON
    return Operation(kind, paths, f"Gemini {action}", BODIES[action], produces, **options)


def _count_body(body: dict[str, Any]) -> dict[str, Any]:
    inner = body.get("generateContentRequest")
    return inner if isinstance(inner, dict) else body


def _count_answer(count: int) -> bytes:
    return orjson.dumps({"totalTokens": count})


SURFACE = SurfaceSpec(
    GEMINI,
    ERRORS,
    "gemini",
    (
        _action("chat", "generateContent", stream=False),
        _action("chat", "streamGenerateContent", stream=True),
        _action("count_tokens", "countTokens"),
        _action("embeddings", "embedContent", codec=embeddings.EMBED_CONTENT),
        _action("embeddings", "batchEmbedContents", codec=embeddings.BATCH_EMBED_CONTENTS),
        Operation(
            "models",
            ("/v1beta/models", *LISTING_PATHS),
            "Model groups the caller may use",
            method="GET",
            listing=models.encode_models,
        ),
    ),
    count_body=_count_body,
    count_answer=_count_answer,
    claims=models.claims,
)
