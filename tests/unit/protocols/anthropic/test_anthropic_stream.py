"""StreamDecoder and StreamEncoder: Anthropic SSE events <-> canonical stream events."""

from __future__ import annotations

from typing import Any

import anthropic
import anthropic.types
import httpx2
import orjson
import pydantic
import pytest

from bastion.domain.usage import Usage
from bastion.protocols.anthropic.stream import StreamDecoder, StreamEncoder
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ImagePart,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.sse import FrameSplitter, parse_frame

_EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)

# The transcript from protocols.md 2.4, with CRLF line ends to exercise the splitter.
_TRANSCRIPT = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start","message":{"id":"msg_01AbC","type":"message","role":"assistant",'
    b'"model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":'
    b'{"input_tokens":310,"cache_read_input_tokens":20,"cache_creation_input_tokens":5,"output_tokens":1}}}\r\n\r\n'
    b"event: content_block_start\r\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\r\n\r\n'
    b'event: ping\r\ndata: {"type":"ping"}\r\n\r\n'
    b"event: content_block_delta\r\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi."}}\r\n\r\n'
    b'event: content_block_stop\r\ndata: {"type":"content_block_stop","index":0}\r\n\r\n'
    b"event: message_delta\r\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":4}}\r\n\r\n'
    b'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
)


def _decode_bytes(raw: bytes, chunk: int = 7) -> list[StreamEvent]:
    """Split ``raw`` into small chunks, frame it and decode every frame."""
    splitter, decoder = FrameSplitter(), StreamDecoder()
    events: list[StreamEvent] = []
    for i in range(0, len(raw), chunk):
        for frame in splitter.feed(raw[i : i + chunk]):
            name, data = parse_frame(frame)
            if data is not None:
                events.extend(decoder.feed(name, data))
    return events + decoder.finish()


def _feed(decoder: StreamDecoder, payload: dict[str, Any]) -> list[StreamEvent]:
    return decoder.feed(payload["type"], orjson.dumps(payload))


def test_decode_the_reference_transcript() -> None:
    """The documented transcript decodes to start, one text block, and an end with final usage."""
    assert _decode_bytes(_TRANSCRIPT) == [
        MessageStart(
            "msg_01AbC",
            "claude-sonnet-4-5",
            Usage(input_tokens=335, output_tokens=1, cache_read_tokens=20, cache_write_tokens=5),
        ),
        BlockStart(0, TextPart("")),
        BlockDelta(0, "text", "Hi."),
        BlockStop(0),
        MessageEnd(
            "end_turn", Usage(input_tokens=335, output_tokens=4, cache_read_tokens=20, cache_write_tokens=5)
        ),
    ]


def test_decode_tool_thinking_and_skipped_server_blocks() -> None:
    """Tool, thinking and redacted blocks decode; server tool blocks are skipped and indices compacted."""
    dec = StreamDecoder()
    _feed(dec, {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 3}}})
    out: list[StreamEvent] = []
    payloads: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "server_tool_use", "id": "x"}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "{"},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "redacted_thinking", "data": "e"},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
        },
        {"type": "content_block_delta", "index": 3, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_stop", "index": 3},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 12, "input_tokens": None}},
        {"type": "message_stop"},
    ]
    for payload in payloads:
        out.extend(_feed(dec, payload))
    assert out == [
        BlockStart(0, ThinkingPart("")),
        BlockDelta(0, "thinking", "hm"),
        BlockDelta(0, "signature", "s"),
        BlockStop(0),
        BlockStart(1, RedactedThinkingPart("e")),
        BlockStop(1),
        BlockStart(2, ToolCallPart("toolu_1", "f")),
        BlockDelta(2, "json", ""),
        BlockDelta(2, "json", '{"a"'),
        BlockStop(2),
        MessageEnd("tool_use", Usage(input_tokens=3, output_tokens=12)),
    ]
    assert dec.finish() == []


def test_decode_block_start_with_content_becomes_deltas() -> None:
    """Content already present in a content_block_start is emitted as a delta."""
    dec = StreamDecoder()
    starts = [
        {"type": "text", "text": "pre"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
        {"type": "thinking", "thinking": "th", "signature": "sg"},
    ]
    out: list[StreamEvent] = []
    for i, block in enumerate(starts):
        out.extend(_feed(dec, {"type": "content_block_start", "index": i, "content_block": block}))
    assert out == [
        BlockStart(0, TextPart("")),
        BlockDelta(0, "text", "pre"),
        BlockStart(1, ToolCallPart("t", "f")),
        BlockDelta(1, "json", '{"a":1}'),
        BlockStart(2, ThinkingPart("")),
        BlockDelta(2, "thinking", "th"),
        BlockDelta(2, "signature", "sg"),
    ]


def test_decode_usage_details_and_stop_sequence() -> None:
    """Thinking tokens and the stop sequence reach MessageEnd."""
    dec = StreamDecoder()
    _feed(dec, {"type": "message_start", "message": {"usage": {"input_tokens": 2, "output_tokens": 1}}})
    _feed(
        dec,
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
            "usage": {"output_tokens": 30, "output_tokens_details": {"thinking_tokens": 10}},
        },
    )
    assert _feed(dec, {"type": "message_stop"}) == [
        MessageEnd("stop_sequence", Usage(input_tokens=2, output_tokens=30, reasoning_tokens=10), "END")
    ]


def test_decode_error_event() -> None:
    """An error event becomes StreamError with the status of its type; later events are ignored."""
    dec = StreamDecoder()
    payload = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert _feed(dec, payload) == [StreamError(529, "overloaded", "Overloaded")]
    assert _feed(dec, {"type": "message_stop"}) == []
    assert dec.finish() == []
    assert StreamDecoder().feed("error", b'{"type":"error"}') == [
        StreamError(500, "api_error", "upstream stream error")
    ]


def test_decode_truncated_stream_is_an_error() -> None:
    """A stream that ends without message_stop ends with a 502 StreamError, once."""
    dec = StreamDecoder()
    _feed(dec, {"type": "message_start", "message": {"id": "m", "model": "c"}})
    assert dec.finish() == [StreamError(502, "api_error", "upstream stream ended early")]
    assert dec.finish() == []


def test_decode_garbage_and_unknown_events() -> None:
    """Non-JSON data is an error; unknown events, pings and stray indices are ignored."""
    dec = StreamDecoder()
    assert dec.feed("ping", b'{"type":"ping"}') == []
    assert dec.feed("future_event", b'{"type":"future_event"}') == []
    assert dec.feed(None, b"") == []
    assert (
        _feed(dec, {"type": "content_block_delta", "index": 5, "delta": {"type": "text_delta", "text": "x"}})
        == []
    )
    assert _feed(dec, {"type": "content_block_stop", "index": 5}) == []
    assert _feed(dec, {"type": "content_block_start", "index": 0}) == []
    assert dec.feed("message_start", b"[1]")[0].status == 502  # type: ignore[union-attr]
    assert StreamDecoder().feed("x", b"{nope")[0] == StreamError(
        502, "api_error", "the upstream sent an event that is not valid JSON"
    )


# ---------------------------------------------------------------------------------------------
# Encoder

_CANONICAL: list[StreamEvent] = [
    MessageStart("chatcmpl-9", "gpt-x", Usage(input_tokens=50, cache_read_tokens=30, cache_write_tokens=5)),
    BlockStart(0, ThinkingPart("")),
    BlockDelta(0, "thinking", "hmm"),
    BlockDelta(0, "signature", "sig"),
    BlockStop(0),
    BlockStart(1, ImagePart(url="https://x/y.png")),
    BlockStop(1),
    BlockStart(2, TextPart("")),
    BlockDelta(2, "text", "Hé\u2028llo"),
    BlockStop(2),
    BlockStart(3, ToolCallPart("call_1", "f")),
    BlockDelta(3, "json", '{"a":'),
    BlockDelta(3, "json", "1}"),
    BlockStop(3),
    BlockStart(4, RedactedThinkingPart("enc")),
    BlockStop(4),
    MessageEnd(
        "tool_use",
        Usage(
            input_tokens=50, output_tokens=20, cache_read_tokens=30, cache_write_tokens=5, reasoning_tokens=4
        ),
    ),
]


def _frames(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    splitter = FrameSplitter()
    out = []
    for frame in splitter.feed(raw):
        name, data = parse_frame(frame)
        assert data is not None
        out.append((name, orjson.loads(data)))
    assert splitter.flush() == b""
    return out


def test_encoder_frames_have_event_lines_and_validate_with_the_sdk() -> None:
    """Every frame has an event line equal to its data type and validates as a RawMessageStreamEvent."""
    enc = StreamEncoder(model="alias")
    raw = b"".join(enc.encode(e) for e in _CANONICAL)
    frames = _frames(raw)
    assert [name for name, _ in frames] == [payload["type"] for _, payload in frames]
    for _, payload in frames:
        _EVENT_ADAPTER.validate_python(payload)
    start = frames[0][1]["message"]
    assert start["id"] == "msg_chatcmpl-9"
    assert start["model"] == "alias"
    assert start["usage"] == {
        "input_tokens": 15,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 30,
        "output_tokens": 0,
    }
    assert frames[-1] == ("message_stop", {"type": "message_stop"})
    assert frames[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 15,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 30,
            "output_tokens": 20,
            "output_tokens_details": {"thinking_tokens": 4},
        },
    }
    # The image block has no Anthropic form: it is skipped and the later blocks renumbered.
    indices = [p["index"] for _, p in frames if p["type"] == "content_block_start"]
    assert indices == [0, 1, 2, 3]


def _sdk_client(raw: bytes) -> anthropic.Anthropic:
    """An official SDK client whose every call is answered with the SSE bytes ``raw``."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=raw, headers={"content-type": "text/event-stream"})

    transport = httpx2.MockTransport(answer)
    return anthropic.Anthropic(
        api_key="test",
        base_url="http://gw.test",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


_ASK: list[anthropic.types.MessageParam] = [{"role": "user", "content": "x"}]


def test_sdk_accumulates_the_encoded_stream() -> None:
    """The official SDK, reading our bytes over HTTP, rebuilds the whole message."""
    enc = StreamEncoder(model="alias")
    raw = b"".join(enc.encode(e) for e in _CANONICAL[:1]) + enc.ping()
    raw += b"".join(enc.encode(e) for e in _CANONICAL[1:])
    with _sdk_client(raw) as client, client.messages.stream(model="alias", max_tokens=10, messages=_ASK) as s:
        message = s.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "redacted_thinking"]
    assert message.content[0].signature == "sig"  # type: ignore[union-attr]
    assert message.content[1].text == "Hé\u2028llo"  # type: ignore[union-attr]
    assert message.content[2].input == {"a": 1}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 15
    assert message.usage.output_tokens == 20


def test_sdk_raises_the_encoded_error_event() -> None:
    """An encoded StreamError reaches the SDK user as an exception with our message."""
    enc = StreamEncoder(model="alias")
    raw = enc.encode(MessageStart("m", "x")) + enc.encode(StreamError(529, "overloaded", "Overloaded now"))
    with (
        _sdk_client(raw) as client,
        pytest.raises(anthropic.APIStatusError, match="Overloaded now"),
        client.messages.stream(model="alias", max_tokens=10, messages=_ASK) as s,
    ):
        s.get_final_message()


def test_encoder_start_parts_with_content_become_deltas() -> None:
    """A BlockStart carrying content is sent as an empty start plus deltas."""
    enc = StreamEncoder(model="m")
    raw = enc.encode(BlockStart(0, TextPart("pre")))
    raw += enc.encode(BlockStart(1, ToolCallPart("t", "f", {"a": 1})))
    raw += enc.encode(BlockStart(2, ThinkingPart("th", "sg")))
    payloads = [p for _, p in _frames(raw)]
    assert [p["type"] for p in payloads] == [
        "content_block_start",
        "content_block_delta",
        "content_block_start",
        "content_block_delta",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
    ]
    assert payloads[1]["delta"] == {"type": "text_delta", "text": "pre"}
    assert payloads[2]["content_block"]["input"] == {}
    assert payloads[3]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":1}'}
    assert payloads[6]["delta"] == {"type": "signature_delta", "signature": "sg"}


def test_encoder_message_end_without_known_input() -> None:
    """When the prompt size is unknown, message_delta carries only output tokens; no stop means end_turn."""
    frames = _frames(StreamEncoder(model="m").encode(MessageEnd(None, Usage(output_tokens=3))))
    assert frames[0][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    }


def test_encoder_ping_and_skipped_deltas() -> None:
    """ping() is an event: ping frame; deltas and stops of a skipped block produce nothing."""
    enc = StreamEncoder(model="m")
    assert enc.ping() == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert enc.encode(BlockStart(0, ImagePart(data="x"))) == b""
    assert enc.encode(BlockDelta(0, "text", "x")) == b""
    assert enc.encode(BlockStop(0)) == b""
