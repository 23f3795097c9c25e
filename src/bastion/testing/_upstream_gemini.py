"""The mock upstream's Gemini wire format: generate, stream, count, embed, errors (protocols.md §3)."""

from __future__ import annotations

from typing import Any

import orjson

from bastion.testing._upstream_answer import THINKING_SIGNATURE, TOOL_INPUT, Answer, count_words, embedding
from bastion.testing._upstream_reply import (
    Reply,
    Stream,
    frame,
    json_reply,
    last_user_text,
    next_id,
    retry_headers,
)

__all__ = [
    "batch_embed_contents",
    "count_tokens",
    "embed_content",
    "error_reply",
    "generate_content",
    "models",
    "stream_generate_content",
]

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_DIMS = 8


def error_reply(status: int, message: str, retry_after: float | None = None) -> Reply:
    """``{"error": {code, message, status}}``, with a RetryInfo detail when ``retry_after`` is set."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
    }
    if retry_after is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after:g}s"}
        ]
    return json_reply({"error": error}, status, retry_headers(retry_after))


def _stream_error(message: str) -> bytes:
    return frame({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}})


def _config(body: dict[str, Any], camel: str, snake: str) -> Any:
    value = body.get(camel)
    return body.get(snake) if value is None else value


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tool(body: dict[str, Any]) -> str | None:
    names: list[str] = []
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        declarations = _config(_object(tool), "functionDeclarations", "function_declarations")
        if isinstance(declarations, list):
            names += [
                d["name"] for d in declarations if isinstance(d, dict) and isinstance(d.get("name"), str)
            ]
    tool_config = _object(_config(body, "toolConfig", "tool_config"))
    calling = _object(_config(tool_config, "functionCallingConfig", "function_calling_config"))
    mode = calling.get("mode")
    if not names or mode == "NONE":
        return None
    if mode == "ANY":
        allowed = _config(calling, "allowedFunctionNames", "allowed_function_names")
        return (
            allowed[0] if isinstance(allowed, list) and allowed and isinstance(allowed[0], str) else names[0]
        )
    return names[0] if "use_tool" in last_user_text(body.get("contents"), "parts") else None


def _answer(body: dict[str, Any]) -> Answer:
    generation = _object(_config(body, "generationConfig", "generation_config"))
    limit = _config(generation, "maxOutputTokens", "max_output_tokens")
    return Answer.build(body, limit, _tool(body))


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "promptTokenCount": answer.input_tokens,
        "candidatesTokenCount": answer.output_tokens,
        "totalTokenCount": answer.input_tokens + answer.output_tokens,
    }


def _chunk(parts: list[dict[str, Any]], model: str, ident: str, last: Answer | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    chunk: dict[str, Any] = {"candidates": [candidate]}
    if last is not None:
        candidate["finishReason"] = "STOP"
        chunk["usageMetadata"] = _usage(last)
    chunk["modelVersion"] = model
    chunk["responseId"] = ident
    return chunk


def _call_part(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A ``functionCall`` part; with thinking configured it carries a ``thoughtSignature``, which
    Gemini 3 requires back with the call (as its thinking models send it)."""
    part: dict[str, Any] = {"functionCall": {"name": name, "args": TOOL_INPUT}}
    generation = _object(_config(body, "generationConfig", "generation_config"))
    if _config(generation, "thinkingConfig", "thinking_config"):
        part["thoughtSignature"] = THINKING_SIGNATURE
    return part


def generate_content(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``:generateContent``: the whole answer (text, or one ``functionCall`` part)."""
    del query
    answer = _answer(body)
    if answer.tool is not None:
        parts: list[dict[str, Any]] = [_call_part(body, answer.tool)]
    else:
        parts = [{"text": answer.text}]
    return json_reply(_chunk(parts, model or "gemini-mock", f"mock{next_id()}", answer))


def _chunks(body: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], Answer]:
    answer = _answer(body)
    ident = f"mock{next_id()}"
    if answer.tool is not None:
        return [_chunk([_call_part(body, answer.tool)], model, ident, answer)], answer
    pieces = answer.pieces
    chunks = [_chunk([{"text": piece}], model, ident) for piece in pieces[:-1]]
    chunks.append(_chunk([{"text": pieces[-1]}], model, ident, answer))
    return chunks, answer


def stream_generate_content(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply | Stream:
    """``:streamGenerateContent``: one SSE chunk per token with ``alt=sse``, else one JSON array."""
    chunks, _ = _chunks(body, model or "gemini-mock")
    if query.get("alt") != "sse":
        return Reply(200, orjson.dumps(chunks))
    return Stream([], [frame(chunk) for chunk in chunks], [], _stream_error)


def count_tokens(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``:countTokens``: ``{"totalTokens": N}``."""
    del model, query
    return json_reply({"totalTokens": max(1, count_words(body))})


def _vector(request: dict[str, Any]) -> dict[str, list[float]]:
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    text = " ".join(p["text"] for p in parts or () if isinstance(p, dict) and isinstance(p.get("text"), str))
    dims = _config(request, "outputDimensionality", "output_dimensionality")
    size = dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else _DEFAULT_DIMS
    return {"values": embedding(text, size)}


def embed_content(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``:embedContent``: ``{"embedding": {"values": [...]}}``."""
    del model, query
    return json_reply({"embedding": _vector(body)})


def batch_embed_contents(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``:batchEmbedContents``: one vector per request, in order."""
    del model, query
    requests = body.get("requests")
    if not isinstance(requests, list):
        return error_reply(400, "'requests' must be a list")
    return json_reply({"embeddings": [_vector(r) for r in requests if isinstance(r, dict)]})


def models(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``GET /v1beta/models``: one mock model."""
    del body, model, query
    entry = {
        "name": "models/gemini-mock",
        "displayName": "Gemini Mock",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 4096,
        "supportedGenerationMethods": ["generateContent", "countTokens", "embedContent"],
    }
    return json_reply({"models": [entry]})
