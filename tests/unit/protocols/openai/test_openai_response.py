"""Unit tests for bastion.protocols.openai.response."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    ChatResponse,
    RedactedThinkingPart,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai.response import (
    decode_response,
    encode_response,
    finish_reason_for,
    stop_reason_for,
    usage_from_openai,
    usage_to_openai,
)


def completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        **extra,
    }


# --------------------------------------------------------------------------------------------
# usage


def test_usage_from_openai_reads_all_details() -> None:
    """Prompt, completion, cached, cache-write and reasoning tokens are read."""
    usage = usage_from_openai(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 40,
            "total_tokens": 1240,
            "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 100, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert usage == Usage(1200, 40, cache_read_tokens=1024, cache_write_tokens=100, reasoning_tokens=30)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"prompt_tokens": None, "completion_tokens": None},
        {"prompt_tokens_details": None, "completion_tokens_details": None},
        {"prompt_tokens": True, "completion_tokens": -3},
    ],
)
def test_usage_from_openai_is_lenient(raw: dict[str, Any] | None) -> None:
    """Missing, null or nonsense fields count as zero."""
    assert usage_from_openai(raw) == Usage()


def test_usage_from_openai_reads_deepseek_cache_hits() -> None:
    """DeepSeek's prompt_cache_hit_tokens count as cached reads."""
    assert usage_from_openai({"prompt_tokens": 10, "prompt_cache_hit_tokens": 6}).cache_read_tokens == 6


def test_usage_to_openai_shape() -> None:
    """Usage encodes with totals and details; cache_write_tokens only when present."""
    assert usage_to_openai(Usage(10, 5, cache_read_tokens=4, reasoning_tokens=2)) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    assert usage_to_openai(Usage(10, 5, cache_write_tokens=3))["prompt_tokens_details"] == {
        "cached_tokens": 0,
        "cache_write_tokens": 3,
    }


# --------------------------------------------------------------------------------------------
# stop reasons


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("eos", "end_turn"),
        (None, None),
    ],
)
def test_stop_reason_for(finish: str | None, stop: StopReason | None) -> None:
    """finish_reason maps to the canonical stop reason; unknown ones mean end_turn."""
    assert stop_reason_for(finish, has_tool_calls=False) == stop


def test_stop_with_tool_calls_means_tool_use() -> None:
    """Servers that say 'stop' after tool calls still yield tool_use."""
    assert stop_reason_for("stop", has_tool_calls=True) == "tool_use"
    assert stop_reason_for("length", has_tool_calls=True) == "max_tokens"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_finish_reason_for(stop: StopReason | None, finish: str) -> None:
    """Canonical stop reasons map back to OpenAI finish reasons."""
    assert finish_reason_for(stop) == finish


# --------------------------------------------------------------------------------------------
# decode_response


def test_decode_text_response() -> None:
    """A plain answer decodes to one text part, the stop reason and usage."""
    resp = decode_response(
        completion(
            {"content": "Hi.", "refusal": None, "tool_calls": None},
            usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        )
    )
    assert resp == ChatResponse(
        "chatcmpl-1", "gpt-4.1-mini-2025-04-14", [TextPart("Hi.")], "end_turn", Usage(12, 3)
    )


def test_decode_tool_calls_response() -> None:
    """Tool calls decode with parsed arguments; content null adds no text."""
    resp = decode_response(
        completion(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            finish="tool_calls",
        )
    )
    assert resp.content == [ToolCallPart("call_1", "w", {"city": "Oslo"})]
    assert resp.stop_reason == "tool_use"


def test_decode_broken_tool_arguments_become_empty() -> None:
    """Broken argument JSON from a model yields empty arguments instead of failing the turn."""
    resp = decode_response(
        completion(
            {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": '{"a":'}}]}, finish="length"
        )
    )
    assert resp.content == [ToolCallPart("c", "f", {})]


def test_decode_reasoning_content_comes_first() -> None:
    """reasoning_content (DeepSeek, vLLM) becomes a leading ThinkingPart."""
    resp = decode_response(completion({"content": "42", "reasoning_content": "think"}))
    assert resp.content == [ThinkingPart("think"), TextPart("42")]
    assert decode_response(completion({"content": "x", "reasoning": "r"})).content[0] == ThinkingPart("r")


def test_decode_thinking_blocks_win_over_reasoning_content() -> None:
    """Signed thinking_blocks are preferred to the flat reasoning text."""
    resp = decode_response(
        completion(
            {
                "content": "ok",
                "reasoning_content": "ab",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "ab", "signature": "s"},
                    {"type": "redacted_thinking", "data": "d"},
                ],
            }
        )
    )
    assert resp.content == [ThinkingPart("ab", "s"), RedactedThinkingPart("d"), TextPart("ok")]


def test_decode_refusal_is_text_and_content_filter_is_refusal() -> None:
    """A refusal becomes text; content_filter becomes the refusal stop reason."""
    resp = decode_response(completion({"content": None, "refusal": "I can't."}, finish="content_filter"))
    assert resp.content == [TextPart("I can't.")]
    assert resp.stop_reason == "refusal"


def test_decode_without_choices() -> None:
    """A body without choices decodes to an empty answer."""
    resp = decode_response({"id": "x", "model": "m", "choices": []})
    assert resp.content == []
    assert resp.stop_reason is None


def test_decode_non_object_is_an_upstream_error() -> None:
    """A non-object body is the provider's fault: a 502 upstream error."""
    with pytest.raises(UpstreamError) as info:
        decode_response([])  # type: ignore[arg-type]
    assert info.value.status == 502


# --------------------------------------------------------------------------------------------
# encode_response


def test_encode_text_response_validates_with_sdk() -> None:
    """A text answer encodes to a chat.completion the OpenAI SDK accepts."""
    resp = ChatResponse("msg_01", "claude-x", [TextPart("Hel"), TextPart("lo")], "end_turn", Usage(10, 2, 4))
    out = encode_response(resp, "my-alias", created=123)
    assert out == {
        "id": "chatcmpl-msg_01",
        "object": "chat.completion",
        "created": 123,
        "model": "my-alias",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 2,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    parsed = ChatCompletion.model_validate(out)
    assert parsed.choices[0].message.content == "Hello"
    assert parsed.usage is not None
    assert parsed.usage.prompt_tokens_details is not None
    assert parsed.usage.prompt_tokens_details.cached_tokens == 4


def test_encode_tool_calls_and_thinking() -> None:
    """Tool calls get JSON-string arguments; thinking shows as reasoning_content and thinking_blocks."""
    resp = ChatResponse(
        "chatcmpl-9",
        "m",
        [
            ThinkingPart("a", "sig"),
            RedactedThinkingPart("r"),
            ThinkingPart("b"),
            ToolCallPart("t1", "f", {"q": "é"}),
        ],
        "tool_use",
        Usage(),
    )
    out = encode_response(resp, "alias")
    message = out["choices"][0]["message"]
    assert out["id"] == "chatcmpl-9"
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"q":"é"}'}}
    ]
    assert message["reasoning_content"] == "ab"
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "a", "signature": "sig"},
        {"type": "redacted_thinking", "data": "r"},
        {"type": "thinking", "thinking": "b"},
    ]
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert isinstance(out["created"], int)
    parsed = ChatCompletion.model_validate(out)
    assert parsed.choices[0].message.tool_calls is not None


def test_encode_empty_answer_has_empty_string_content() -> None:
    """An answer with nothing in it has content "" (not null, which means tool calls only)."""
    out = encode_response(ChatResponse("x", "m", [], "max_tokens", Usage()), "m")
    assert out["choices"][0]["message"]["content"] == ""
    assert out["choices"][0]["finish_reason"] == "length"
