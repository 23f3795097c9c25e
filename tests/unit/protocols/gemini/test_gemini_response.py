"""Unit and property tests of bastion.protocols.gemini.response."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    ChatResponse,
    ContentPart,
    ImagePart,
    RedactedThinkingPart,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.gemini.response import (
    decode_response,
    encode_response,
    finish_reason_for,
    stop_reason_for,
    usage_from_gemini,
    usage_to_gemini,
)


def _body(parts: list[Any], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": parts}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


# ---------------------------------------------------------------------------------------------
# stop reasons


@pytest.mark.parametrize(
    ("finish", "has_calls", "stop"),
    [
        ("STOP", False, "end_turn"),
        ("STOP", True, "tool_use"),
        ("MAX_TOKENS", True, "max_tokens"),
        ("SAFETY", False, "refusal"),
        ("RECITATION", False, "refusal"),
        ("BLOCKLIST", False, "refusal"),
        ("PROHIBITED_CONTENT", False, "refusal"),
        ("SPII", False, "refusal"),
        ("IMAGE_SAFETY", False, "refusal"),
        ("IMAGE_FUTURE_KIND", False, "refusal"),
        ("OTHER", False, "end_turn"),
        ("LANGUAGE", False, "end_turn"),
        ("MALFORMED_FUNCTION_CALL", False, "end_turn"),
        ("FINISH_REASON_UNSPECIFIED", False, "end_turn"),
        (None, False, None),
    ],
)
def test_stop_reason_for(finish: str | None, has_calls: bool, stop: StopReason | None) -> None:
    """finishReason maps per protocols.md section 4.2; STOP with calls is tool_use."""
    assert stop_reason_for(finish, has_calls=has_calls) == stop


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "STOP"),
        ("stop_sequence", "STOP"),
        ("tool_use", "STOP"),
        ("pause_turn", "STOP"),
        ("max_tokens", "MAX_TOKENS"),
        ("refusal", "SAFETY"),
        (None, "STOP"),
    ],
)
def test_finish_reason_for(stop: StopReason | None, finish: str) -> None:
    """Canonical stop reasons map back to the Gemini finishReason."""
    assert finish_reason_for(stop) == finish


# ---------------------------------------------------------------------------------------------
# usage


def test_usage_from_gemini_counts_thoughts_and_tool_prompt() -> None:
    """Output includes thoughts; input adds tool-use prompt tokens; cache reads are cachedContent."""
    usage = usage_from_gemini(
        {
            "promptTokenCount": 40,
            "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": 8,
            "thoughtsTokenCount": 120,
            "cachedContentTokenCount": 30,
            "totalTokenCount": 173,
        }
    )
    assert usage == Usage(input_tokens=45, output_tokens=128, cache_read_tokens=30, reasoning_tokens=120)


def test_usage_from_gemini_snake_case_and_missing() -> None:
    """snake_case counts are read; missing or bad counts are zero; no metadata is zero usage."""
    assert usage_from_gemini({"prompt_token_count": 3, "candidates_token_count": True}) == Usage(
        input_tokens=3
    )
    assert usage_from_gemini(None) == Usage()


def test_usage_to_gemini() -> None:
    """candidatesTokenCount excludes reasoning; total is input plus output; zero details are omitted."""
    assert usage_to_gemini(
        Usage(input_tokens=45, output_tokens=128, cache_read_tokens=30, reasoning_tokens=120)
    ) == {
        "promptTokenCount": 45,
        "candidatesTokenCount": 8,
        "thoughtsTokenCount": 120,
        "cachedContentTokenCount": 30,
        "totalTokenCount": 173,
    }
    assert usage_to_gemini(Usage(input_tokens=1, output_tokens=2)) == {
        "promptTokenCount": 1,
        "candidatesTokenCount": 2,
        "totalTokenCount": 3,
    }


# ---------------------------------------------------------------------------------------------
# decode_response


def test_decode_response_text_thoughts_and_calls() -> None:
    """Thoughts, text and calls are decoded in order; calls get ids; STOP with calls is tool_use."""
    resp = decode_response(
        _body(
            [
                {"text": "plan", "thought": True},
                {"text": "Calling."},
                {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"id": "given", "name": "g", "args": {}}},
            ],
            usageMetadata={"promptTokenCount": 4, "candidatesTokenCount": 6, "thoughtsTokenCount": 2},
            modelVersion="gemini-2.5-flash",
            responseId="resp-1",
        )
    )
    assert resp.id == "resp-1"
    assert resp.model == "gemini-2.5-flash"
    assert resp.stop_reason == "tool_use"
    assert resp.usage == Usage(input_tokens=4, output_tokens=8, reasoning_tokens=2)
    thinking, text, first, second = resp.content
    assert thinking == ThinkingPart(text="plan")
    assert text == TextPart(text="Calling.")
    assert isinstance(first, ToolCallPart)
    assert first.id.startswith("call_")
    assert len(first.id) > len("call_") + 8
    assert (first.name, first.arguments, first.signature) == ("f", {"a": 1}, "c2ln")
    assert second == ToolCallPart(id="given", name="g", arguments={})


def test_decode_response_generated_ids_differ_between_replies() -> None:
    """Generated call ids are unique across replies, as conversations need."""
    body = _body([{"functionCall": {"name": "f", "args": {}}}])
    first, second = decode_response(body).content[0], decode_response(body).content[0]
    assert isinstance(first, ToolCallPart)
    assert isinstance(second, ToolCallPart)
    assert first.id != second.id


def test_decode_response_skips_unknown_parts_and_generates_id() -> None:
    """An odd part in an answer is skipped rather than failing the reply; a missing id is generated."""
    resp = decode_response(_body([{"videoMetadata": {}}, "junk", {"text": "ok"}], finish="MAX_TOKENS"))
    assert resp.content == [TextPart(text="ok")]
    assert resp.stop_reason == "max_tokens"
    assert resp.id


def test_decode_response_prompt_blocked() -> None:
    """A blocked prompt (no candidates, promptFeedback.blockReason) is a refusal with no content."""
    resp = decode_response(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9}}
    )
    assert resp.stop_reason == "refusal"
    assert resp.content == []
    assert resp.usage.input_tokens == 9


def test_decode_response_missing_finish_reason_is_a_stop() -> None:
    """A non-streamed answer without finishReason is treated as STOP."""
    assert decode_response(_body([{"text": "x"}], finish=None)).stop_reason == "end_turn"


# ---------------------------------------------------------------------------------------------
# encode_response


def test_encode_response_shape() -> None:
    """Candidate 0 with role model, thought and call parts, finishReason, usage, model and id."""
    resp = ChatResponse(
        id="msg_1",
        model="claude-x",
        content=[
            ThinkingPart(text="hmm", signature="c2ln"),
            RedactedThinkingPart(data="opaque"),
            TextPart(text="Hi"),
            ToolCallPart(id="toolu_1", name="f", arguments={"a": 1}, signature="dGc="),
        ],
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=5, reasoning_tokens=2),
    )
    assert encode_response(resp, "alias") == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "hmm", "thought": True, "thoughtSignature": "c2ln"},
                        {"text": "Hi"},
                        {
                            "functionCall": {"name": "f", "args": {"a": 1}, "id": "toolu_1"},
                            "thoughtSignature": "dGc=",
                        },
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 3,
            "thoughtsTokenCount": 2,
            "totalTokenCount": 15,
        },
        "modelVersion": "alias",
        "responseId": "msg_1",
    }


def test_encode_response_empty_answer_has_an_empty_text_part() -> None:
    """An empty non-refusal answer still has one part, so SDK chat history keeps the turn."""
    resp = ChatResponse(id="r", model="m", content=[], stop_reason="max_tokens", usage=Usage())
    candidate = encode_response(resp, "m")["candidates"][0]
    assert candidate["content"]["parts"] == [{"text": ""}]
    assert candidate["finishReason"] == "MAX_TOKENS"


def test_encode_response_empty_refusal_has_no_content() -> None:
    """A refusal with nothing said looks like Gemini's blocked answer: no content, SAFETY."""
    resp = ChatResponse(id="r", model="m", content=[], stop_reason="refusal", usage=Usage())
    assert encode_response(resp, "m")["candidates"][0] == {"finishReason": "SAFETY", "index": 0}


# ---------------------------------------------------------------------------------------------
# round trip

_signature = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
_part = st.one_of(
    st.text(min_size=1, max_size=20).map(lambda t: TextPart(text=t)),
    st.builds(ThinkingPart, text=st.text(max_size=20), signature=st.none() | _signature),
    st.builds(
        ToolCallPart,
        id=st.text(min_size=1, max_size=12),
        name=st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
        arguments=st.dictionaries(
            st.text(max_size=5), st.integers(-(2**53), 2**53) | st.text(max_size=5), max_size=3
        ),
        signature=st.none() | _signature,
    ),
    st.builds(ImagePart, media_type=st.just("image/png"), data=_signature),
)


@st.composite
def _response(draw: st.DrawFn) -> ChatResponse:
    content: list[ContentPart] = draw(st.lists(_part, max_size=5))
    has_calls = any(isinstance(p, ToolCallPart) for p in content)
    stops: list[StopReason] = ["tool_use" if has_calls else "end_turn", "max_tokens", "refusal"]
    stop = draw(st.sampled_from(stops))
    output = draw(st.integers(0, 10_000))
    input_tokens = draw(st.integers(0, 10_000))
    return ChatResponse(
        id=draw(st.text(min_size=1, max_size=20)),
        model="served-model",
        content=content,
        stop_reason=stop,
        usage=Usage(
            input_tokens=input_tokens,
            output_tokens=output,
            cache_read_tokens=draw(st.integers(0, input_tokens)),
            reasoning_tokens=draw(st.integers(0, output)),
        ),
    )


@settings(max_examples=200)
@given(_response())
def test_response_round_trip(resp: ChatResponse) -> None:
    """decode_response(encode_response(x)) == x when x has no cache writes or redacted thinking and
    its stop reason is one Gemini distinguishes (stop_sequence and pause_turn read back as end_turn)."""
    assert decode_response(encode_response(resp, resp.model)) == resp


def test_decode_response_skips_malformed_call() -> None:
    """A function call without a name in an upstream answer is skipped, not turned into a 400."""
    resp = decode_response(_body([{"functionCall": {"args": {}}}, {"text": "ok"}]))
    assert resp.content == [TextPart(text="ok")]
    assert resp.stop_reason == "end_turn"
