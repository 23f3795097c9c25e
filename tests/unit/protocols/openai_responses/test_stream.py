"""The Responses stream encoder writes the event sequence the OpenAI SDK parses, in OpenAI's order."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    MessageEnd,
    MessageStart,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai_responses.response import Echo, encode_response
from bastion.protocols.openai_responses.stream import StreamEncoder
from bastion.protocols.sse import FrameSplitter, parse_frame

_EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def _run(events: list[StreamEvent], *, fail: str | None = None) -> tuple[list[dict[str, Any]], StreamEncoder]:
    encoder = StreamEncoder(Echo.of({"instructions": "I", "metadata": {"a": "b"}}, "group"))
    raw = b"".join(encoder.encode(e) for e in events)
    if fail is not None:
        raw += encoder.fail("server_error", fail)
    splitter = FrameSplitter()
    out: list[dict[str, Any]] = []
    for frame in [*splitter.feed(raw), *splitter.finish()]:
        name, data = parse_frame(frame)
        assert data is not None
        payload = orjson.loads(data)
        assert name == payload["type"]  # the event: line names the event
        _EVENTS.validate_python(payload)  # every required field is there, as the SDK types it
        out.append(payload)
    return out, encoder


_TURN: list[StreamEvent] = [
    MessageStart("up-1", "upstream-model", Usage(input_tokens=10)),
    BlockStart(0, ThinkingPart("")),
    BlockDelta(0, "thinking", "Let me "),
    BlockDelta(0, "thinking", "think."),
    BlockDelta(0, "signature", "sig-1"),
    BlockStop(0),
    BlockStart(1, TextPart("")),
    BlockDelta(1, "text", "Hello"),
    BlockDelta(1, "text", " world"),
    BlockStop(1),
    BlockStart(2, ToolCallPart("call_9", "get_weather")),
    BlockDelta(2, "json", '{"city": '),
    BlockDelta(2, "json", '"Oslo"}'),
    BlockStop(2),
    MessageEnd("tool_use", Usage(input_tokens=10, output_tokens=7, cache_read_tokens=4, reasoning_tokens=3)),
]


def test_the_whole_sequence_in_order() -> None:
    """Reasoning, text and a function call, each item opened, filled and closed, then completed."""
    events, encoder = _run(_TURN)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.done"] == [0, 1, 2]
    final = Response.model_validate(events[-1]["response"])
    assert final.status == "completed" and final.output_text == "Hello world"
    assert final.instructions == "I" and final.metadata == {"a": "b"} and final.model == "group"
    reasoning, message, call = final.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "sig-1"
    assert reasoning.summary[0].text == "Let me think."
    assert message.type == "message"
    assert call.type == "function_call" and call.call_id == "call_9" and call.arguments == '{"city": "Oslo"}'
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (10, 7, 17)
    assert final.usage.input_tokens_details.cached_tokens == 4
    assert final.usage.output_tokens_details.reasoning_tokens == 3
    assert encoder.final == events[-1]["response"]
    created = events[0]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["id"] == final.id


def test_max_tokens_ends_incomplete() -> None:
    """A stop on the token limit is ``response.incomplete`` with reason max_output_tokens."""
    events, _ = _run(
        [
            MessageStart("x", "m"),
            BlockStart(0, TextPart("")),
            BlockDelta(0, "text", "a"),
            MessageEnd("max_tokens", Usage(1, 1)),
        ]
    )
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["type"] == "response.output_item.done"  # the open block is closed first


def test_failure_after_the_start() -> None:
    """A failure mid-stream: ``error`` then ``response.failed`` carrying what was generated."""
    events, encoder = _run(
        [MessageStart("x", "m"), BlockStart(0, TextPart("")), BlockDelta(0, "text", "par")], fail="boom"
    )
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["message"] == "boom"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": "boom"}
    assert encoder.final is failed or encoder.final == failed


@pytest.mark.parametrize("stop", ["end_turn", "tool_use", "stop_sequence"])
def test_json_answer_matches_the_stream(stop: Any) -> None:
    """The JSON encoding of the same answer has the same items and usage as the streamed one."""
    resp = ChatResponse(
        "x",
        "m",
        [ThinkingPart("t", "s"), TextPart("hi"), ToolCallPart("c", "f", {"a": 1})],
        stop,
        Usage(3, 4),
    )
    body = encode_response(resp, Echo.of({"store": False}, "group"))
    parsed = Response.model_validate(body)
    assert parsed.status == "completed" and parsed.store is False
    assert [item.type for item in parsed.output] == ["reasoning", "message", "function_call"]
    assert parsed.output_text == "hi"
    assert parsed.usage is not None and parsed.usage.total_tokens == 7


def test_a_custom_tool_call_streams_its_input_whole() -> None:
    """A call of a custom tool is a custom_tool_call item; its input comes as one delta and done."""
    custom = {"type": "custom", "name": "apply_patch"}
    encoder = StreamEncoder(Echo.of({"tools": [custom]}, "group"))
    raw = b"".join(
        encoder.encode(e)
        for e in [
            MessageStart("x", "m"),
            BlockStart(0, ToolCallPart("call_1", "apply_patch")),
            BlockDelta(0, "json", '{"input": "*** Begin'),
            BlockDelta(0, "json", ' Patch"}'),
            BlockStop(0),
            MessageEnd("tool_use", Usage(1, 1)),
        ]
    )
    splitter = FrameSplitter()
    events = [orjson.loads(parse_frame(f)[1] or b"") for f in [*splitter.feed(raw), *splitter.finish()]]
    for event in events:
        _EVENTS.validate_python(event)
    assert [e["type"] for e in events][2:-1] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]
    assert events[-2]["item"] == {
        "id": events[-2]["item"]["id"],
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    body = encode_response(
        ChatResponse("x", "m", [ToolCallPart("c", "apply_patch", {"input": "p"})], "tool_use", Usage(1, 1)),
        Echo.of({"tools": [custom]}, "group"),
    )
    assert Response.model_validate(body).output[0].type == "custom_tool_call"
