"""The OpenAI surface's endpoints: chat completions, embeddings and the model listing (paths,
schemas, errors)."""

from __future__ import annotations

from bastion.protocols.openai import embeddings, models
from bastion.protocols.openai.wire import OPENAI
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

__all__ = ["CHAT_BODY", "EMBEDDINGS_BODY", "ERRORS", "SURFACE"]

ERRORS = ErrorEnvelope(
    OPENAI,
    "OpenAIError",
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type"],
            }
        },
        "required": ["error"],
    },
)
CHAT_BODY = provider_body(
    "OpenAI CreateChatCompletionRequest",
    "https://platform.openai.com/docs/api-reference/chat/create",
    {"model": MODEL, "messages": {"type": "array", "items": {"type": "object"}}},
    optional={"stream": STREAM, "max_tokens": {"type": "integer"}, "tools": {"type": "array"}},
)
EMBEDDINGS_BODY = provider_body(
    "OpenAI CreateEmbeddingRequest",
    "https://platform.openai.com/docs/api-reference/embeddings/create",
    {"model": MODEL, "input": {"oneOf": [{"type": "string"}, {"type": "array"}]}},
)

SURFACE = SurfaceSpec(
    OPENAI,
    ERRORS,
    "openai",
    (
        Operation(
            "chat",
            ("/v1/chat/completions", "/chat/completions", "/openai/v1/chat/completions"),
            "OpenAI chat completions",
            CHAT_BODY,
            JSON_OR_SSE,
        ),
        Operation(
            "embeddings",
            ("/v1/embeddings", "/embeddings"),
            "OpenAI embeddings",
            EMBEDDINGS_BODY,
            codec=embeddings.CODEC,
        ),
        Operation(
            "models",
            LISTING_PATHS,
            "Model groups the caller may use (Anthropic's or Gemini's shape for their SDKs)",
            method="GET",
            listing=models.encode_models,
        ),
        Operation(
            "model",
            ("/v1/models/{model:path}",),
            "One model group",
            method="GET",
            listing=models.encode_model,
        ),
    ),
)
