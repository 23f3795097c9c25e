"""GenerateContentResponse bodies to and from the canonical :class:`ChatResponse`, and usage.

Gemini has no tool-call finish reason: a reply with ``functionCall`` parts ends with ``STOP``, so
the stop reason depends on the parts. Usage counts thoughts apart from the answer
(``candidatesTokenCount`` excludes ``thoughtsTokenCount``); canonical output includes them.
"""

from __future__ import annotations

import random
from typing import Any

from bastion.domain.usage import Usage
from bastion.protocols.canonical import ChatResponse, ContentPart, StopReason, ToolCallPart
from bastion.protocols.gemini._casing import pick
from bastion.protocols.gemini._content import CallIds, decode_parts, encode_part

__all__ = [
    "decode_response",
    "encode_response",
    "finish_reason_for",
    "new_response_id",
    "stop_reason_for",
    "usage_from_gemini",
    "usage_to_gemini",
]

_REFUSALS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
    }
)
_FINISH_REASONS: dict[StopReason, str] = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "refusal": "SAFETY",
}


def new_response_id() -> str:
    """A response id for a reply that came without one (Gemini's look: opaque, URL-safe)."""
    return f"{random.getrandbits(96):024x}"


def stop_reason_for(finish_reason: Any, *, has_calls: bool) -> StopReason | None:
    """Canonical stop reason for a Gemini ``finishReason`` (``None`` when there was none)."""
    if finish_reason is None:
        return None
    if finish_reason == "MAX_TOKENS":
        return "max_tokens"
    if finish_reason in _REFUSALS or (isinstance(finish_reason, str) and finish_reason.startswith("IMAGE_")):
        return "refusal"
    # STOP, and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL...) which have no canonical name.
    return "tool_use" if has_calls else "end_turn"


def finish_reason_for(stop_reason: StopReason | None) -> str:
    """Gemini ``finishReason`` for a canonical stop reason."""
    return "STOP" if stop_reason is None else _FINISH_REASONS[stop_reason]


def usage_from_gemini(u: dict[str, Any] | None) -> Usage:
    """Canonical usage from ``usageMetadata`` (missing counts are zero)."""
    if not isinstance(u, dict):
        return Usage()
    prompt = _count(pick(u, "promptTokenCount", "prompt_token_count"))
    tool_prompt = _count(pick(u, "toolUsePromptTokenCount", "tool_use_prompt_token_count"))
    candidates = _count(pick(u, "candidatesTokenCount", "candidates_token_count"))
    thoughts = _count(pick(u, "thoughtsTokenCount", "thoughts_token_count"))
    cached = _count(pick(u, "cachedContentTokenCount", "cached_content_token_count"))
    return Usage(
        input_tokens=prompt + tool_prompt,
        output_tokens=candidates + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def usage_to_gemini(usage: Usage) -> dict[str, int]:
    """``usageMetadata`` for canonical usage (cache writes have no Gemini field: counted as prompt)."""
    out = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_response(body: dict[str, Any]) -> ChatResponse:
    """Candidate 0 of an upstream's answer as a canonical response."""
    usage = usage_from_gemini(pick(body, "usageMetadata", "usage_metadata"))
    response_id = pick(body, "responseId", "response_id")
    model = pick(body, "modelVersion", "model_version")
    candidates = body.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else None
    content: list[ContentPart] = []
    stop: StopReason | None
    if isinstance(candidate, dict):
        raw = candidate.get("content")
        parts = raw.get("parts") if isinstance(raw, dict) else None
        if isinstance(parts, list):
            content = decode_parts(parts, CallIds(deterministic=False), where=None)
        has_calls = any(isinstance(part, ToolCallPart) for part in content)
        stop = stop_reason_for(
            pick(candidate, "finishReason", "finish_reason") or "STOP", has_calls=has_calls
        )
    else:
        # No candidate: the prompt itself was blocked (promptFeedback.blockReason) or filtered.
        stop = "refusal"
    return ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else new_response_id(),
        model=model if isinstance(model, str) else "",
        content=content,
        stop_reason=stop,
        usage=usage,
    )


def encode_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    """A GenerateContentResponse for a client of the Gemini surface."""
    parts: list[dict[str, Any]] = []
    for part in resp.content:
        encode_part(part, parts, response=True)
    candidate: dict[str, Any] = {}
    if parts or resp.stop_reason != "refusal":
        # Like Gemini, a blocked answer has no content; any other gets at least one part, since
        # the SDK's chat history drops a turn whose content is empty.
        candidate["content"] = {"role": "model", "parts": parts or [{"text": ""}]}
    candidate["finishReason"] = finish_reason_for(resp.stop_reason)
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": usage_to_gemini(resp.usage),
        "modelVersion": model,
        "responseId": resp.id,
    }
