"""The mock upstream's Anthropic wire format: messages, count_tokens, models, errors (protocols.md §2)."""

from __future__ import annotations

from typing import Any

from bastion.testing._upstream_answer import (
    THINKING_SIGNATURE,
    THINKING_TEXT,
    TOOL_INPUT,
    Answer,
    count_words,
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

__all__ = ["count_tokens", "error_reply", "messages", "models"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_reply(status: int, message: str, retry_after: float | None = None) -> Reply:
    """``{"type": "error", "error": {type, message}, "request_id"}`` with Anthropic's type for ``status``."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    request_id = f"req_mock{next_id()}"
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
    headers = [(b"request-id", request_id.encode()), *retry_headers(retry_after)]
    return json_reply(body, status, headers)


def _stream_error(message: str) -> bytes:
    return frame({"type": "error", "error": {"type": "overloaded_error", "message": message}}, "error")


def _tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    names: list[str] = [
        tool["name"] for tool in tools if isinstance(tool, dict) and isinstance(tool.get("name"), str)
    ]
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not names or kind == "none":
        return None
    if kind == "tool" and isinstance(choice, dict):
        forced = str_field(choice, "name")
        if forced is not None:
            return forced
    if kind == "any" or "use_tool" in last_user_text(body.get("messages"), "content"):
        return names[0]
    return None


def messages(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply | Stream:
    """``POST /v1/messages``: a message or its event stream; ``max_tokens`` is required."""
    del model, query
    if "max_tokens" not in body:
        return error_reply(400, "max_tokens: Field required")
    thinking = body.get("thinking")
    answer = Answer.build(
        body,
        body["max_tokens"],
        _tool(body),
        thinking=isinstance(thinking, dict) and thinking.get("type") == "enabled",
    )
    ident = f"msg_mock{next_id()}"
    tool_id = f"toolu_mock{next_id()}"
    model_name = str_field(body, "model") or "claude-mock"
    stop = "tool_use" if answer.tool is not None else "end_turn"
    usage: dict[str, Any] = {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": answer.output_tokens,
    }
    if body.get("stream") is True:
        return _stream(answer, ident, tool_id, model_name, stop, usage)
    content: list[dict[str, Any]] = []
    if answer.thinking:
        content.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE})
    if answer.tool is not None:
        content.append({"type": "tool_use", "id": tool_id, "name": answer.tool, "input": TOOL_INPUT})
    else:
        content.append({"type": "text", "text": answer.text})
    usage["service_tier"] = "standard"
    usage["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    return json_reply(
        {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model_name,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        },
        headers=[(b"request-id", f"req_mock{next_id()}".encode())],
    )


def _stream(answer: Answer, ident: str, tool_id: str, model: str, stop: str, usage: dict[str, Any]) -> Stream:
    start: dict[str, Any] = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    head = [frame({"type": "message_start", "message": start}, "message_start")]
    index = 0
    if answer.thinking:
        head += [
            _block_start(index, {"type": "thinking", "thinking": ""}),
            _delta(index, {"type": "thinking_delta", "thinking": THINKING_TEXT}),
            _delta(index, {"type": "signature_delta", "signature": THINKING_SIGNATURE}),
            frame({"type": "content_block_stop", "index": index}, "content_block_stop"),
        ]
        index += 1
    if answer.tool is not None:
        head.append(
            _block_start(index, {"type": "tool_use", "id": tool_id, "name": answer.tool, "input": {}})
        )
        tokens = [_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in answer.pieces]
    else:
        head.append(_block_start(index, {"type": "text", "text": ""}))
        tokens = [_delta(index, {"type": "text_delta", "text": p}) for p in answer.pieces]
    head.append(frame({"type": "ping"}, "ping"))
    tail = [
        frame({"type": "content_block_stop", "index": index}, "content_block_stop"),
        frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": answer.output_tokens},
            },
            "message_delta",
        ),
        frame({"type": "message_stop"}, "message_stop"),
    ]
    return Stream(head, tokens, tail, _stream_error)


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return frame(
        {"type": "content_block_start", "index": index, "content_block": block}, "content_block_start"
    )


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return frame({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")


def count_tokens(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``."""
    del model, query
    return json_reply({"input_tokens": max(1, count_words(body))})


def models(body: dict[str, Any], model: str | None, query: dict[str, str]) -> Reply:
    """``GET /v1/models`` in Anthropic's page shape (chosen when the request has ``anthropic-version``)."""
    del body, model, query
    entry = {
        "type": "model",
        "id": "claude-mock",
        "display_name": "Claude Mock",
        "created_at": "2025-01-01T00:00:00Z",
    }
    return json_reply(
        {"data": [entry], "has_more": False, "first_id": "claude-mock", "last_id": "claude-mock"}
    )
