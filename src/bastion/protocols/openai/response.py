"""Chat Completions response bodies and usage to and from canonical form.

Non-standard fields read and written here: ``reasoning_content`` (DeepSeek, vLLM; ``reasoning`` on
OpenRouter) for visible reasoning, and LiteLLM's ``thinking_blocks`` for signed thinking blocks a
client must send back with tool results.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    ChatResponse,
    ContentPart,
    RedactedThinkingPart,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai._content import thinking_parts

__all__ = [
    "chat_completion_id",
    "decode_response",
    "encode_response",
    "finish_reason_for",
    "stop_reason_for",
    "usage_from_openai",
    "usage_to_openai",
]

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_FINISH_REASONS: dict[str | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    None: "stop",
}


def stop_reason_for(finish_reason: object, has_tool_calls: bool) -> StopReason | None:
    """OpenAI ``finish_reason`` -> canonical stop reason.

    Several OpenAI-compatible servers answer ``stop`` even when the turn ends in tool calls, and
    Anthropic clients loop on ``tool_use``, so tool calls win over ``stop``.
    """
    if not isinstance(finish_reason, str):
        return None
    reason = _STOP_REASONS.get(finish_reason, "end_turn")
    if has_tool_calls and reason == "end_turn":
        return "tool_use"
    return reason


def finish_reason_for(stop_reason: StopReason | None) -> str:
    """Canonical stop reason -> OpenAI ``finish_reason``."""
    return _FINISH_REASONS[stop_reason]


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_openai(u: dict[str, Any] | None) -> Usage:
    """An OpenAI ``usage`` object -> :class:`Usage`; every field is optional."""
    if not isinstance(u, dict):
        return Usage()
    usage = Usage(_count(u.get("prompt_tokens")), _count(u.get("completion_tokens")))
    prompt = u.get("prompt_tokens_details")
    if isinstance(prompt, dict):
        usage.cache_read_tokens = _count(prompt.get("cached_tokens"))
        usage.cache_write_tokens = _count(prompt.get("cache_write_tokens"))
    if not usage.cache_read_tokens:  # DeepSeek's own field names
        usage.cache_read_tokens = _count(u.get("prompt_cache_hit_tokens"))
    completion = u.get("completion_tokens_details")
    if isinstance(completion, dict):
        usage.reasoning_tokens = _count(completion.get("reasoning_tokens"))
    return usage


def usage_to_openai(usage: Usage) -> dict[str, Any]:
    """:class:`Usage` -> an OpenAI ``usage`` object (``prompt_tokens`` includes the cache)."""
    prompt: dict[str, int] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens:
        prompt["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": prompt,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream ``chat.completion`` body -> :class:`ChatResponse` (first choice only)."""
    if not isinstance(body, dict):
        raise UpstreamError("The provider returned a response that is not a JSON object.", status=502)
    content: list[ContentPart] = []
    finish: object = None
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            _decode_message(message, content)
        finish = choices[0].get("finish_reason")
    has_calls = any(isinstance(part, ToolCallPart) for part in content)
    return ChatResponse(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=stop_reason_for(finish, has_calls),
        usage=usage_from_openai(body.get("usage")),
    )


def _decode_message(message: dict[str, Any], content: list[ContentPart]) -> None:
    blocks = message.get("thinking_blocks")
    if isinstance(blocks, list) and blocks:
        content.extend(thinking_parts(blocks))
    else:
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            content.append(ThinkingPart(reasoning))
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append(TextPart(text))
    elif isinstance(text, list):
        content.extend(
            TextPart(p["text"]) for p in text if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        content.append(TextPart(refusal))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for i, call in enumerate(calls):
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                content.append(_decode_call(call["function"], str(call.get("id") or f"call_{i}")))
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        content.append(_decode_call(legacy, "call_0"))


def _decode_call(function: dict[str, Any], call_id: str) -> ToolCallPart:
    raw = function.get("arguments")
    arguments: object = raw if isinstance(raw, dict) else {}
    if isinstance(raw, str) and raw:
        try:
            arguments = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # A model cut off mid-call (or a weak one) emits broken JSON. Failing the whole turn
            # helps nobody; empty arguments let the client's tool validation report it.
            arguments = {}
    return ToolCallPart(
        call_id, str(function.get("name") or ""), arguments if isinstance(arguments, dict) else {}
    )


def encode_response(resp: ChatResponse, model: str, *, created: int | None = None) -> dict[str, Any]:
    """:class:`ChatResponse` -> a ``chat.completion`` body; ``model`` is the name the client used."""
    texts: list[str] = []
    reasoning: list[str] = []
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for part in resp.content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ToolCallPart):
            calls.append(
                {
                    "id": part.id,
                    "type": "function",
                    "function": {"name": part.name, "arguments": orjson.dumps(part.arguments).decode()},
                }
            )
        elif isinstance(part, ThinkingPart):
            reasoning.append(part.text)
            block: dict[str, Any] = {"type": "thinking", "thinking": part.text}
            if part.signature is not None:
                block["signature"] = part.signature
            blocks.append(block)
        elif isinstance(part, RedactedThinkingPart):
            blocks.append({"type": "redacted_thinking", "data": part.data})
    text = "".join(texts)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls else ""),
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    if blocks:
        message["reasoning_content"] = "".join(reasoning)
        message["thinking_blocks"] = blocks
    return {
        "id": chat_completion_id(resp.id),
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _FINISH_REASONS[resp.stop_reason],
                "logprobs": None,
            }
        ],
        "usage": usage_to_openai(resp.usage),
    }


def chat_completion_id(message_id: str) -> str:
    """OpenAI ids start with ``chatcmpl-``; prefix foreign ids once, keep OpenAI ones as they are."""
    return message_id if message_id.startswith("chatcmpl-") else "chatcmpl-" + message_id
