"""Anthropic ``message`` bodies <-> :class:`ChatResponse`, plus the usage and stop-reason mappings.

Anthropic's ``input_tokens`` excludes cached tokens; the canonical :class:`Usage` includes them, so
decoding adds ``cache_creation_input_tokens`` and ``cache_read_input_tokens`` and encoding takes
them off again.

Response blocks the canonical form cannot hold (server tool use and results, container uploads)
are skipped when decoding: the answer's text survives, and failing a call the upstream already
served would be worse. Text ``citations`` are dropped. Encoding skips parts an Anthropic answer
cannot hold (images, documents, tool results).
"""

from __future__ import annotations

from typing import Any

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

__all__ = [
    "decode_response",
    "decode_stop_reason",
    "encode_response",
    "encode_stop_reason",
    "message_id",
    "usage_from_anthropic",
    "usage_to_anthropic",
]

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    # No canonical name: it is a length stop for every other protocol (protocols.md 4.2).
    "model_context_window_exceeded": "max_tokens",
}


def decode_stop_reason(value: Any) -> StopReason | None:
    """Anthropic ``stop_reason`` as canonical; an unknown future value counts as ``end_turn``."""
    if value is None:
        return None
    return _STOP_REASONS.get(value, "end_turn")


def encode_stop_reason(value: StopReason | None) -> str:
    """Canonical stop reason for an Anthropic client, which expects one on a finished message."""
    return value or "end_turn"


def message_id(value: str) -> str:
    """An id in Anthropic's ``msg_`` form."""
    return value if value.startswith("msg_") else "msg_" + value


def _count(u: dict[str, Any], key: str) -> int:
    value = u.get(key)
    return value if isinstance(value, int) else 0


def usage_from_anthropic(u: dict[str, Any] | None) -> Usage:
    """Anthropic ``usage`` as canonical: the prompt total includes cache reads and writes."""
    if not u:
        return Usage()
    cache_write = _count(u, "cache_creation_input_tokens")
    cache_read = _count(u, "cache_read_input_tokens")
    details = u.get("output_tokens_details")
    reasoning = _count(details, "thinking_tokens") if isinstance(details, dict) else 0
    return Usage(
        input_tokens=_count(u, "input_tokens") + cache_write + cache_read,
        output_tokens=_count(u, "output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    """Canonical usage as Anthropic's: ``input_tokens`` without the cached tokens."""
    out: dict[str, Any] = {
        "input_tokens": usage.uncached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def _decode_block(block: Any) -> ContentPart | None:
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "text":
        return TextPart(str(block.get("text") or ""))
    if kind == "tool_use":
        arguments = block.get("input")
        return ToolCallPart(
            str(block.get("id") or ""),
            str(block.get("name") or ""),
            arguments if isinstance(arguments, dict) else {},
        )
    if kind == "thinking":
        return ThinkingPart(str(block.get("thinking") or ""), block.get("signature") or None)
    if kind == "redacted_thinking":
        return RedactedThinkingPart(str(block.get("data") or ""))
    return None


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """An upstream ``message`` body in canonical form; tolerant of unknown and missing fields."""
    content: list[ContentPart] = []
    for block in body.get("content") or ():
        part = _decode_block(block)
        if part is not None:
            content.append(part)
    usage = body.get("usage")
    stop_sequence = body.get("stop_sequence")
    return ChatResponse(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=decode_stop_reason(body.get("stop_reason")),
        usage=usage_from_anthropic(usage if isinstance(usage, dict) else None),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
    )


def _encode_block(part: ContentPart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ThinkingPart):
        return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    if isinstance(part, RedactedThinkingPart):
        return {"type": "redacted_thinking", "data": part.data}
    return None


def encode_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    """The Anthropic ``message`` body for ``resp``, answering as ``model``."""
    content = [b for b in (_encode_block(p) for p in resp.content) if b is not None]
    return {
        "id": message_id(resp.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": encode_stop_reason(resp.stop_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": usage_to_anthropic(resp.usage),
    }
