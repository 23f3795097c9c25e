"""decode_response / encode_response and the usage and stop-reason mappings."""

from __future__ import annotations

from typing import Any

import anthropic.types
import pytest

from bastion.domain.usage import Usage
from bastion.protocols.anthropic.response import (
    decode_response,
    decode_stop_reason,
    encode_response,
    message_id,
    usage_from_anthropic,
    usage_to_anthropic,
)
from bastion.protocols.canonical import (
    ChatResponse,
    ImagePart,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

_UPSTREAM: dict[str, Any] = {
    "id": "msg_01AbC",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "enc"},
        {"type": "text", "text": "Checking.", "citations": None},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "tool_use", "id": "toolu_01X", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 310,
        "output_tokens": 52,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "service_tier": "standard",
        "output_tokens_details": {"thinking_tokens": 20},
    },
}


def test_usage_from_anthropic_adds_cache_to_input() -> None:
    """Canonical input = input + cache creation + cache read; thinking tokens are reasoning."""
    assert usage_from_anthropic(_UPSTREAM["usage"]) == Usage(
        input_tokens=2458,
        output_tokens=52,
        cache_read_tokens=2048,
        cache_write_tokens=100,
        reasoning_tokens=20,
    )


def test_usage_from_anthropic_tolerates_missing_and_null() -> None:
    """None, empty and null fields count as zero."""
    assert usage_from_anthropic(None) == Usage()
    assert usage_from_anthropic({"input_tokens": 5, "cache_read_input_tokens": None}) == Usage(input_tokens=5)
    assert usage_from_anthropic({"output_tokens": 3, "output_tokens_details": None}) == Usage(output_tokens=3)


def test_usage_to_anthropic_takes_cache_off_input() -> None:
    """Anthropic input_tokens excludes cached tokens; thinking tokens appear when present."""
    usage = Usage(input_tokens=2458, output_tokens=52, cache_read_tokens=2048, cache_write_tokens=100)
    assert usage_to_anthropic(usage) == {
        "input_tokens": 310,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "output_tokens": 52,
    }
    assert usage_to_anthropic(Usage(output_tokens=9, reasoning_tokens=4))["output_tokens_details"] == {
        "thinking_tokens": 4
    }


@pytest.mark.parametrize(
    ("wire", "canonical"),
    [
        ("end_turn", "end_turn"),
        ("max_tokens", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
        ("tool_use", "tool_use"),
        ("pause_turn", "pause_turn"),
        ("refusal", "refusal"),
        ("model_context_window_exceeded", "max_tokens"),
        ("something_new", "end_turn"),
        (None, None),
    ],
)
def test_decode_stop_reason(wire: str | None, canonical: str | None) -> None:
    """Stop reasons map to canonical; the context-window stop is a length stop."""
    assert decode_stop_reason(wire) == canonical


def test_decode_response() -> None:
    """An upstream message becomes a ChatResponse; server tool blocks are skipped."""
    resp = decode_response(_UPSTREAM)
    assert resp.id == "msg_01AbC"
    assert resp.model == "claude-sonnet-4-5-20250929"
    assert resp.content == [
        ThinkingPart("Let me see.", "sig"),
        RedactedThinkingPart("enc"),
        TextPart("Checking."),
        ToolCallPart("toolu_01X", "get_weather", {"city": "Oslo"}),
    ]
    assert resp.stop_reason == "tool_use"
    assert resp.stop_sequence is None
    assert resp.usage.input_tokens == 2458


def test_decode_response_tolerates_a_sparse_body() -> None:
    """Missing fields give empty values rather than errors."""
    resp = decode_response({"content": [None, {"type": "tool_use", "input": "bad"}], "usage": "x"})
    assert resp.content == [ToolCallPart("", "", {})]
    assert resp.usage == Usage()
    assert resp.stop_reason is None


def test_encode_response_shape_and_sdk_validation() -> None:
    """The encoded body is an Anthropic message the official SDK type accepts."""
    resp = ChatResponse(
        id="chatcmpl-1",
        model="gpt-x",
        content=[
            ThinkingPart("hm"),
            TextPart("Hi", {"type": "ephemeral"}),
            ImagePart(url="https://x/y.png"),
            ToolCallPart("call_1", "f", {"a": 1}),
            RedactedThinkingPart("enc"),
        ],
        stop_reason="stop_sequence",
        stop_sequence="END",
        usage=Usage(input_tokens=100, output_tokens=7, cache_read_tokens=60, cache_write_tokens=10),
    )
    body = encode_response(resp, "alias")
    assert body == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "alias",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": ""},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
            {"type": "redacted_thinking", "data": "enc"},
        ],
        "stop_reason": "stop_sequence",
        "stop_sequence": "END",
        "usage": {
            "input_tokens": 30,
            "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 60,
            "output_tokens": 7,
        },
    }
    message = anthropic.types.Message.model_validate(body)
    assert message.usage.input_tokens == 30


def test_encode_response_without_stop_reason_says_end_turn() -> None:
    """A missing stop reason is sent as end_turn; an msg_ id is kept as is."""
    resp = ChatResponse(id="msg_1", model="m", content=[], stop_reason=None, usage=Usage())
    body = encode_response(resp, "m")
    assert body["stop_reason"] == "end_turn"
    assert body["id"] == "msg_1"
    assert message_id("abc") == "msg_abc"
