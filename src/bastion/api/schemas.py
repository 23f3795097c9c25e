"""JSON Schemas of the client surfaces' request bodies, for ``/openapi.json``.

The generation bodies are the providers' own formats; Bastion passes unknown fields through, so
these schemas name only the fields every call needs and point to the provider's reference for the
rest (``externalDocs``), with ``additionalProperties`` left open.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ANTHROPIC_COUNT_TOKENS",
    "ANTHROPIC_MESSAGES",
    "DRY_RUN",
    "GEMINI_BODIES",
    "JSON",
    "JSON_OR_SSE",
    "OPENAI_CHAT",
    "OPENAI_EMBEDDINGS",
    "OPENAI_RESPONSES",
    "SSE",
]

JSON = "application/json"
SSE = "text/event-stream"
#: JSON, or server-sent events when the body asks for ``"stream": true``.
JSON_OR_SSE = "application/json, text/event-stream"


def _provider_body(
    title: str, docs: str, required: dict[str, Any], *, optional: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "description": f"{title}, as the provider defines it; fields Bastion does not read are passed on.",
        "externalDocs": {"url": docs},
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": True,
    }


_MODEL = {"type": "string", "description": "A model group of this gateway (GET /v1/models lists them)."}
_STREAM = {"type": "boolean", "default": False}

OPENAI_CHAT = _provider_body(
    "OpenAI CreateChatCompletionRequest",
    "https://platform.openai.com/docs/api-reference/chat/create",
    {"model": _MODEL, "messages": {"type": "array", "items": {"type": "object"}}},
    optional={"stream": _STREAM, "max_tokens": {"type": "integer"}, "tools": {"type": "array"}},
)
OPENAI_RESPONSES = _provider_body(
    "OpenAI CreateResponseRequest",
    "https://platform.openai.com/docs/api-reference/responses/create",
    {
        "model": _MODEL,
        "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
    },
    optional={
        "instructions": {"type": "string"},
        "stream": _STREAM,
        "max_output_tokens": {"type": "integer"},
        "tools": {"type": "array"},
        "previous_response_id": {"type": "string"},
        "store": {"type": "boolean"},
    },
)
OPENAI_EMBEDDINGS = _provider_body(
    "OpenAI CreateEmbeddingRequest",
    "https://platform.openai.com/docs/api-reference/embeddings/create",
    {"model": _MODEL, "input": {"oneOf": [{"type": "string"}, {"type": "array"}]}},
)
ANTHROPIC_MESSAGES = _provider_body(
    "Anthropic Messages request",
    "https://docs.anthropic.com/en/api/messages",
    {
        "model": _MODEL,
        "messages": {"type": "array", "items": {"type": "object"}},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
    optional={"stream": _STREAM, "system": {}, "tools": {"type": "array"}},
)
ANTHROPIC_COUNT_TOKENS = _provider_body(
    "Anthropic count_tokens request",
    "https://docs.anthropic.com/en/api/messages-count-tokens",
    {"model": _MODEL, "messages": {"type": "array", "items": {"type": "object"}}},
)
_GEMINI_GENERATE = _provider_body(
    "Gemini GenerateContentRequest",
    "https://ai.google.dev/api/generate-content",
    {"contents": {"type": "array", "items": {"type": "object"}}},
    optional={"generationConfig": {"type": "object"}, "systemInstruction": {"type": "object"}},
)
GEMINI_BODIES: dict[str, dict[str, Any]] = {
    "generateContent": _GEMINI_GENERATE,
    "streamGenerateContent": _GEMINI_GENERATE,
    "countTokens": _provider_body(
        "Gemini CountTokensRequest",
        "https://ai.google.dev/api/tokens",
        {},
        optional={"contents": {"type": "array"}, "generateContentRequest": {"type": "object"}},
    ),
    "embedContent": _provider_body(
        "Gemini EmbedContentRequest", "https://ai.google.dev/api/embeddings", {"content": {"type": "object"}}
    ),
    "batchEmbedContents": _provider_body(
        "Gemini BatchEmbedContentsRequest",
        "https://ai.google.dev/api/embeddings",
        {"requests": {"type": "array", "items": {"type": "object"}}},
    ),
}
DRY_RUN = {
    "title": "Routing dry run",
    "type": "object",
    "description": "A request as a client would send it; nothing is sent upstream.",
    "properties": {
        "model": _MODEL,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "team_id": {"type": "string"},
    },
    "required": ["model"],
    "additionalProperties": True,
}
