"""The mock upstream's OpenAI wire format: chat completions, embeddings, models, errors (protocols.md §1)."""

from __future__ import annotations

import time
from typing import Any

from bastion.testing._upstream_answer import (
    TOOL_ARGUMENTS,
    Answer,
    count_words,
    embedding,
    encode_base64_floats,
)
from bastion.testing._upstream_reply import (
    Reply,
    Stream,
    frame,
    json_reply,
    last_user_text,
    next_id,
    retry_headers,
    str_field,
)

__all__ = ["chat", "embeddings", "error_reply", "models"]

_DONE = b"data: [DONE]\n\n"
_DEFAULT_DIMS = 8


def error_reply(status: int, message: str, retry_after: float | None = None) -> Reply:
    """``{"error": {message, type, param, code}}`` with the type and code OpenAI uses for ``status``."""
    if status == 401:
        kind, code = "invalid_request_error", "invalid_api_key"
    elif status == 404:
        kind, code = "invalid_request_error", "model_not_found"
    elif status == 429:
        kind, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        kind, code = "server_error", None
    else:
        kind, code = "invalid_request_error", None
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    headers = [(b"x-request-id", f"req_mock{next_id()}".encode()), *retry_headers(retry_after)]
    return json_reply(body, status, headers)


def _stream_error(message: str) -> bytes:
    return frame({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


def _tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    names: list[str] = [
        tool["function"]["name"]
        for tool in tools
        if isinstance(tool, dict)
        and isinstance(tool.get("function"), dict)
        and isinstance(tool["function"].get("name"), str)
    ]
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        forced = str_field(choice["function"], "name")
        if forced is not None:
            return forced
    if choice == "required":
        return names[0]
    messages = body.get("messages")
    # Once the last message is a tool's result the mock answers in text, as a model would; the
    # user's 'use_tool' is still the last user turn then (an agent's loop would never end).
    answered = isinstance(messages, list) and bool(messages) and _role(messages[-1]) == "tool"
    if not answered and "use_tool" in last_user_text(messages, "content"):
        return names[0]
    return None


def _role(message: object) -> object:
    return message.get("role") if isinstance(message, dict) else None


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat(body: dict[str, Any], deployment: str | None, query: dict[str, str]) -> Reply | Stream:
    """``POST /v1/chat/completions`` (and Azure's deployment path): a completion or its stream."""
    del query
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    answer = Answer.build(body, limit, _tool(body))
    model = str_field(body, "model") or deployment or "mock-model"
    ident = f"chatcmpl-mock{next_id()}"
    created = int(time.time())
    call_id = f"call_mock{next_id()}"
    finish = "tool_calls" if answer.tool is not None else "stop"
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _stream(answer, ident, created, model, call_id, finish, include_usage)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text,
        "refusal": None,
        "tool_calls": None,
    }
    if answer.tool is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": answer.tool, "arguments": TOOL_ARGUMENTS},
            }
        ]
    return json_reply(
        {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _usage(answer),
        }
    )


def _stream(
    answer: Answer, ident: str, created: int, model: str, call_id: str, finish: str, include_usage: bool
) -> Stream:
    base: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return frame({**base, "choices": [choice]})

    if answer.tool is None:
        head = [chunk({"role": "assistant", "content": ""})]
        tokens = [chunk({"content": piece}) for piece in answer.pieces]
    else:
        call = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": answer.tool, "arguments": ""},
        }
        head = [chunk({"role": "assistant", "content": None, "tool_calls": [call]})]
        tokens = [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in answer.pieces
        ]
    tail = [chunk({}, finish)]
    if include_usage:
        tail.append(frame({**base, "choices": [], "usage": _usage(answer)}))
    tail.append(_DONE)
    return Stream(head, tokens, tail, _stream_error)


def embeddings(body: dict[str, Any], deployment: str | None, query: dict[str, str]) -> Reply:
    """``POST /v1/embeddings``: one deterministic vector per input, as floats or base64 float32."""
    del query
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        return error_reply(400, "'input' must be a non-empty string or list")
    dims = body.get("dimensions")
    size = dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else _DEFAULT_DIMS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(raw):
        text = item if isinstance(item, str) else " ".join(str(token) for token in item)
        vector = embedding(text, size)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64_floats(vector) if as_base64 else vector,
            }
        )
    tokens = max(1, count_words(body))
    return json_reply(
        {
            "object": "list",
            "data": data,
            "model": str_field(body, "model") or deployment or "mock-embedding",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def models(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``GET /v1/models`` in OpenAI's list shape."""
    del body, model, query
    entry = {"id": "mock-model", "object": "model", "created": 1700000000, "owned_by": "mock"}
    return json_reply({"object": "list", "data": [entry]})
