"""Unit tests for bastion.protocols.openai.stream (StreamDecoder, StreamEncoder)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai.stream import StreamDecoder, StreamEncoder
from bastion.protocols.sse import FrameSplitter, parse_frame


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return orjson.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": choices, **extra}
    )


def decode_all(*payloads: bytes, finish: bool = True) -> list[StreamEvent]:
    decoder = StreamDecoder()
    events: list[StreamEvent] = []
    for payload in payloads:
        events.extend(decoder.feed(payload))
    if finish:
        events.extend(decoder.finish())
    return events


USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


# --------------------------------------------------------------------------------------------
# StreamDecoder


def test_decode_text_stream_with_usage_chunk() -> None:
    """The documented text sequence gives start, one text block, and the end with usage."""
    events = decode_all(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hi"}),
        chunk({"content": "."}),
        chunk({}, "stop"),
        chunk(None, usage=USAGE),
        b"[DONE]",
    )
    assert events == [
        MessageStart("chatcmpl-1", "m"),
        BlockStart(0, TextPart("")),
        BlockDelta(0, "text", "Hi"),
        BlockDelta(0, "text", "."),
        BlockStop(0),
        MessageEnd("end_turn", Usage(12, 3)),
    ]


def test_decode_ends_at_done_without_usage() -> None:
    """Without a usage chunk, [DONE] ends the message, once."""
    decoder = StreamDecoder()
    decoder.feed(chunk({"content": "x"}))
    events = decoder.feed(chunk({}, "length")) + decoder.feed(b"[DONE]")
    assert events == [BlockStop(0), MessageEnd("max_tokens", Usage())]
    assert decoder.finish() == []
    assert decoder.feed(chunk({"content": "late"})) == []


def test_decode_finish_closes_open_block_at_end_of_input() -> None:
    """Input that just stops still closes the block and ends the message."""
    events = decode_all(chunk({"content": "x"}))
    assert events[-2:] == [BlockStop(0), MessageEnd(None, Usage())]


def test_decode_empty_stream_is_an_error() -> None:
    """A stream with no chunk at all reports an error instead of an empty answer."""
    events = decode_all()
    assert len(events) == 1
    assert isinstance(events[0], StreamError)
    assert events[0].status == 502


def test_decode_reasoning_then_text() -> None:
    """reasoning_content opens a thinking block, closed when text begins."""
    events = decode_all(
        chunk({"reasoning_content": "hm"}),
        chunk({"reasoning_content": "m"}),
        chunk({"content": "A"}),
        chunk({}, "stop"),
    )
    assert events[1:7] == [
        BlockStart(0, ThinkingPart("")),
        BlockDelta(0, "thinking", "hm"),
        BlockDelta(0, "thinking", "m"),
        BlockStop(0),
        BlockStart(1, TextPart("")),
        BlockDelta(1, "text", "A"),
    ]


def test_decode_tool_calls_by_index() -> None:
    """Tool calls open one block per index; argument fragments become json deltas."""
    events = decode_all(
        chunk({"content": "Let me check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "w", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "t", "arguments": "{}"},
                    }
                ]
            }
        ),
        chunk({}, "tool_calls"),
        chunk(None, usage=USAGE),
    )
    assert events == [
        MessageStart("chatcmpl-1", "m"),
        BlockStart(0, TextPart("")),
        BlockDelta(0, "text", "Let me check."),
        BlockStop(0),
        BlockStart(1, ToolCallPart("call_a", "w")),
        BlockDelta(1, "json", '{"city":'),
        BlockDelta(1, "json", '"Oslo"}'),
        BlockStop(1),
        BlockStart(2, ToolCallPart("call_b", "t")),
        BlockDelta(2, "json", "{}"),
        BlockStop(2),
        MessageEnd("tool_use", Usage(12, 3)),
    ]


def test_decode_calls_all_at_index_zero_split_by_id() -> None:
    """Servers that send every whole call at index 0 still get one block per call."""
    events = decode_all(
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk({}, "stop"),
    )
    starts = [e.part for e in events if isinstance(e, BlockStart)]
    assert starts == [ToolCallPart("a", "f"), ToolCallPart("b", "g")]
    assert isinstance(events[-1], MessageEnd)
    assert events[-1].stop_reason == "tool_use"


def test_decode_calls_without_index_or_id() -> None:
    """A call without index gets the next one; a call without id gets a generated id."""
    events = decode_all(
        chunk({"tool_calls": [{"function": {"name": "f", "arguments": '{"a":1}'}}]}),
        chunk({"tool_calls": [{"id": "x", "function": {"name": "g", "arguments": "{}"}}]}),
    )
    starts = [e.part for e in events if isinstance(e, BlockStart)]
    assert len(starts) == 2
    assert isinstance(starts[0], ToolCallPart)
    assert starts[0].id.startswith("call_")
    assert starts[0].name == "f"
    assert starts[1] == ToolCallPart("x", "g")


def test_decode_usage_on_finish_chunk_ends_message() -> None:
    """Usage on the finish chunk itself (Gemini-compat, Mistral) ends the message there."""
    events = decode_all(chunk({"content": "x"}), chunk({}, "stop", usage=USAGE), b"[DONE]")
    assert events[-1] == MessageEnd("end_turn", Usage(12, 3))
    assert sum(isinstance(e, MessageEnd) for e in events) == 1


def test_decode_continuous_usage_does_not_end_early() -> None:
    """Usage on every chunk (vLLM continuous stats) does not end the message before finish."""
    events = decode_all(
        chunk({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 1}),
        chunk({"content": "b"}, usage={"prompt_tokens": 5, "completion_tokens": 2}),
        chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 2}),
    )
    texts = [e.value for e in events if isinstance(e, BlockDelta)]
    assert texts == ["a", "b"]
    assert events[-1] == MessageEnd("end_turn", Usage(5, 2))


def test_decode_cached_and_reasoning_usage() -> None:
    """Usage details reach MessageEnd."""
    usage = {
        **USAGE,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    events = decode_all(chunk({"content": "x"}), chunk({}, "stop"), chunk(None, usage=usage))
    assert events[-1] == MessageEnd("end_turn", Usage(12, 3, cache_read_tokens=8, reasoning_tokens=2))


def test_decode_error_chunk() -> None:
    """A chunk with a non-empty error key becomes a StreamError and ends decoding."""
    decoder = StreamDecoder()
    decoder.feed(chunk({"content": "x"}))
    events = decoder.feed(b'{"error":{"message":"upstream overloaded","type":"server_error","code":503}}')
    assert events == [StreamError(503, "api_error", "upstream overloaded")]
    assert decoder.feed(b"[DONE]") == []
    assert decoder.finish() == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            b'{"error":{"message":"slow down","type":"rate_limit_error"}}',
            StreamError(500, "rate_limit", "slow down"),
        ),
        (b'{"error":"boom"}', StreamError(500, "api_error", "boom")),
        (
            b'{"error":{"code":"x"}}',
            StreamError(500, "api_error", "The provider reported an error mid-stream."),
        ),
    ],
)
def test_decode_error_chunk_shapes(payload: bytes, expected: StreamError) -> None:
    """Error chunks of several shapes give a status (500 unless given), kind and message."""
    assert StreamDecoder().feed(payload) == [expected]


def test_decode_ignores_empty_error_non_objects_and_other_choices() -> None:
    """An empty error, a non-object payload and choices other than 0 are ignored."""
    events = decode_all(
        b'{"id":"x","model":"m","choices":[],"error":null}',
        b"[1,2]",
        orjson.dumps({"choices": [{"index": 1, "delta": {"content": "other"}, "finish_reason": None}]}),
        chunk({"content": "mine"}),
    )
    texts = [e.value for e in events if isinstance(e, BlockDelta)]
    assert texts == ["mine"]


def test_decode_malformed_json_is_an_error() -> None:
    """A chunk that is not JSON ends the stream with an error."""
    events = StreamDecoder().feed(b"{nope")
    assert len(events) == 1
    assert isinstance(events[0], StreamError)


# --------------------------------------------------------------------------------------------
# StreamEncoder


def encode_all(events: list[StreamEvent], *, include_usage: bool = True) -> bytes:
    encoder = StreamEncoder(model="alias", include_usage=include_usage, created=1760000000)
    return b"".join(encoder.encode(e) for e in events)


def payloads(raw: bytes) -> list[bytes]:
    splitter = FrameSplitter()
    out = []
    for frame in splitter.feed(raw):
        event, data = parse_frame(frame)
        assert event is None  # chat streams have no event: lines
        assert data is not None
        out.append(data)
    assert splitter.flush() == b""
    return out


TEXT_EVENTS: list[StreamEvent] = [
    MessageStart("msg_1", "claude"),
    BlockStart(0, TextPart("")),
    BlockDelta(0, "text", "Hi."),
    BlockStop(0),
    MessageEnd("end_turn", Usage(12, 3)),
]


def test_encode_text_stream_matches_documented_sequence() -> None:
    """A text answer encodes to exactly the documented chunk sequence (protocols.md §1.4)."""
    common = (
        b'data: {"id":"chatcmpl-msg_1","object":"chat.completion.chunk","created":1760000000,"model":"alias"'
    )
    null = b',"finish_reason":null}],"usage":null}\n\n'
    usage = (
        b'{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,'
        b'"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}'
    )
    assert encode_all(TEXT_EVENTS) == b"".join(
        [
            common + b',"choices":[{"index":0,"delta":{"role":"assistant","content":""}' + null,
            common + b',"choices":[{"index":0,"delta":{"content":"Hi."}' + null,
            common + b',"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n',
            common + b',"choices":[],"usage":' + usage + b"}\n\n",
            b"data: [DONE]\n\n",
        ]
    )


def test_encode_without_usage_has_no_usage_fields() -> None:
    """Without include_usage, chunks carry no usage key and no usage chunk is sent."""
    chunks = payloads(encode_all(TEXT_EVENTS, include_usage=False))
    assert chunks[-1] == b"[DONE]"
    bodies = [orjson.loads(c) for c in chunks[:-1]]
    assert len(bodies) == 3
    assert all("usage" not in b for b in bodies)
    assert bodies[-1]["choices"][0]["finish_reason"] == "stop"


def test_encode_tool_calls_count_calls_not_blocks() -> None:
    """Tool-call indexes count calls; json deltas carry argument fragments; every chunk validates."""
    events: list[StreamEvent] = [
        MessageStart("chatcmpl-abc", "claude"),
        BlockStart(0, ThinkingPart("")),
        BlockDelta(0, "thinking", "plan"),
        BlockDelta(0, "signature", "sig"),
        BlockStop(0),
        BlockStart(1, RedactedThinkingPart("r")),
        BlockStop(1),
        BlockStart(2, TextPart("")),
        BlockDelta(2, "text", "ok"),
        BlockStop(2),
        BlockStart(3, ToolCallPart("toolu_1", "w")),
        BlockDelta(3, "json", '{"c":'),
        BlockDelta(3, "json", "1}"),
        BlockStop(3),
        BlockStart(4, ToolCallPart("toolu_2", "t")),
        BlockStop(4),
        MessageEnd("tool_use", Usage(5, 7, cache_read_tokens=2, cache_write_tokens=1, reasoning_tokens=4)),
    ]
    chunks = payloads(encode_all(events))
    assert chunks[-1] == b"[DONE]"
    bodies = [orjson.loads(c) for c in chunks[:-1]]
    for body in bodies:
        ChatCompletionChunk.model_validate(body)
        assert body["id"] == "chatcmpl-abc"
    deltas = [b["choices"][0]["delta"] for b in bodies if b["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "plan"},
        {"content": "ok"},
        {
            "tool_calls": [
                {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": ""}}
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"c":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        {
            "tool_calls": [
                {"index": 1, "id": "toolu_2", "type": "function", "function": {"name": "t", "arguments": ""}}
            ]
        },
        {},
    ]
    assert bodies[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert bodies[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }


def test_encode_tool_start_with_arguments_sends_them() -> None:
    """A tool block that starts with its arguments already known sends them in the first delta."""
    encoder = StreamEncoder(model="m", include_usage=False, created=1)
    encoder.encode(MessageStart("x", "m"))
    out = orjson.loads(payloads(encoder.encode(BlockStart(0, ToolCallPart("c", "f", {"a": 1}))))[0])
    assert out["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'


def test_encode_skips_empty_deltas() -> None:
    """An empty delta produces no chunk."""
    encoder = StreamEncoder(model="m", include_usage=True, created=1)
    encoder.encode(MessageStart("x", "m"))
    assert encoder.encode(BlockDelta(0, "text", "")) == b""


def test_encode_error_ends_stream_without_done() -> None:
    """A StreamError becomes an error frame; nothing follows, not even [DONE]."""
    encoder = StreamEncoder(model="m", include_usage=True, created=1)
    encoder.encode(MessageStart("x", "m"))
    frames = payloads(encoder.encode(StreamError(529, "overloaded", "Overloaded")))
    assert [orjson.loads(f) for f in frames] == [
        {"error": {"message": "Overloaded", "type": "service_unavailable", "param": None, "code": None}}
    ]
    assert encoder.encode(BlockDelta(0, "text", "more")) == b""
    assert encoder.encode(MessageEnd("end_turn", Usage())) == b""


def test_encode_without_message_start_still_well_formed() -> None:
    """Events before any MessageStart still encode to valid chunks with a chatcmpl id."""
    encoder = StreamEncoder(model="m", include_usage=False)
    body = orjson.loads(payloads(encoder.encode(BlockDelta(0, "text", "x")))[0])
    assert body["id"].startswith("chatcmpl-")
    ChatCompletionChunk.model_validate(body)
    end = payloads(encoder.encode(MessageEnd(None, Usage())))
    assert orjson.loads(end[0])["id"] == body["id"]
    assert end[-1] == b"[DONE]"


def test_encode_escapes_unicode_separators_safely() -> None:
    """Text with line separators and quotes stays one data line and decodes back exactly."""
    text = 'a\u2028b\u2029c\r\n"d"\x85'
    raw = StreamEncoder(model="m", include_usage=False, created=1)
    raw.encode(MessageStart("x", "m"))
    frame = raw.encode(BlockDelta(0, "text", text))
    assert frame.count(b"\n") == 2
    assert orjson.loads(payloads(frame)[0])["choices"][0]["delta"]["content"] == text


def test_decode_skips_azure_prompt_filter_chunk() -> None:
    """Azure's leading chunk (empty choices, empty id, filter results) does not start the message."""
    azure = b'{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}'
    events = decode_all(azure, chunk({"role": "assistant", "content": "x"}))
    assert events[0] == MessageStart("chatcmpl-1", "m")
