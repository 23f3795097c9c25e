"""Unit and property tests of bastion.protocols.gemini.stream (StreamDecoder, StreamEncoder)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ContentPart,
    DeltaKind,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.gemini.stream import StreamDecoder, StreamEncoder
from bastion.protocols.sse import FrameSplitter, parse_frame


def _chunk(parts: list[Any] | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = dict(extra)
    if parts is not None:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if "finish" in body:
            candidate["finishReason"] = body.pop("finish")
        body["candidates"] = [candidate]
    return orjson.dumps(body)


def _decode_all(payloads: list[bytes]) -> list[StreamEvent]:
    decoder = StreamDecoder()
    events: list[StreamEvent] = []
    for payload in payloads:
        events.extend(decoder.feed(payload))
    events.extend(decoder.finish())
    return events


# ---------------------------------------------------------------------------------------------
# StreamDecoder


def test_decoder_text_then_call_then_finish() -> None:
    """Text opens one block fed by deltas; a call is a complete block; STOP with calls is tool_use."""
    events = _decode_all(
        [
            _chunk(
                [{"text": "Hel"}],
                responseId="r1",
                modelVersion="gemini-2.5-flash",
                usageMetadata={"promptTokenCount": 7},
            ),
            _chunk([{"text": "lo"}], usageMetadata={"promptTokenCount": 7, "candidatesTokenCount": 1}),
            _chunk(
                [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"}],
                finish="STOP",
                usageMetadata={"promptTokenCount": 7, "candidatesTokenCount": 5, "thoughtsTokenCount": 3},
            ),
        ]
    )
    start, *rest = events
    assert start == MessageStart(id="r1", model="gemini-2.5-flash", usage=Usage(input_tokens=7))
    call_start = rest[4]
    assert isinstance(call_start, BlockStart)
    assert isinstance(call_start.part, ToolCallPart)
    call_id = call_start.part.id
    assert call_id.startswith("call_")
    assert rest == [
        BlockStart(index=0, part=TextPart(text="")),
        BlockDelta(index=0, kind="text", value="Hel"),
        BlockDelta(index=0, kind="text", value="lo"),
        BlockStop(index=0),
        BlockStart(index=1, part=ToolCallPart(id=call_id, name="f", arguments={}, signature="c2ln")),
        BlockDelta(index=1, kind="json", value='{"a":1}'),
        BlockStop(index=1),
        MessageEnd(stop_reason="tool_use", usage=Usage(input_tokens=7, output_tokens=8, reasoning_tokens=3)),
    ]


def test_decoder_thinking_block_with_signature_then_text() -> None:
    """Thought parts form a thinking block (signature as a delta); switching to text closes it."""
    events = _decode_all(
        [
            _chunk([{"text": "think", "thought": True}]),
            _chunk([{"text": "", "thought": True, "thoughtSignature": "c2ln"}]),
            _chunk([{"text": "answer", "thoughtSignature": "dGV4dA=="}], finish="MAX_TOKENS"),
        ]
    )
    assert events[1:] == [
        BlockStart(index=0, part=ThinkingPart(text="")),
        BlockDelta(index=0, kind="thinking", value="think"),
        BlockDelta(index=0, kind="signature", value="c2ln"),
        BlockStop(index=0),
        BlockStart(index=1, part=TextPart(text="")),
        BlockDelta(index=1, kind="text", value="answer"),
        BlockStop(index=1),
        MessageEnd(stop_reason="max_tokens", usage=Usage()),
    ]


def test_decoder_empty_text_and_odd_parts_open_nothing() -> None:
    """Empty texts, bare text signatures and parts with no stream block produce no events."""
    events = _decode_all(
        [
            _chunk(
                [
                    {"text": ""},
                    {"text": "", "thoughtSignature": "c2ln"},
                    {"inlineData": {"mimeType": "image/png", "data": "AA"}},
                    "x",
                ]
            ),
            _chunk([], finish="STOP"),
        ]
    )
    assert [type(e) for e in events] == [MessageStart, MessageEnd]
    assert isinstance(events[1], MessageEnd)
    assert events[1].stop_reason == "end_turn"


def test_decoder_last_usage_wins() -> None:
    """usageMetadata on several chunks: the last one is the final usage, not a sum."""
    events = _decode_all(
        [
            _chunk([{"text": "a"}], usageMetadata={"promptTokenCount": 5, "candidatesTokenCount": 1}),
            _chunk(
                [{"text": "b"}],
                finish="STOP",
                usageMetadata={"promptTokenCount": 5, "candidatesTokenCount": 2},
            ),
        ]
    )
    assert events[-1] == MessageEnd(stop_reason="end_turn", usage=Usage(input_tokens=5, output_tokens=2))


def test_decoder_prompt_blocked_is_refusal() -> None:
    """A chunk with only promptFeedback.blockReason ends the message as a refusal."""
    events = _decode_all([orjson.dumps({"promptFeedback": {"blockReason": "OTHER"}})])
    assert events[-1] == MessageEnd(stop_reason="refusal", usage=Usage())


def test_decoder_without_finish_reason_has_no_stop_reason() -> None:
    """A body that ends without finishReason (possibly cut short) ends with stop_reason None."""
    events = _decode_all([_chunk([{"text": "a"}])])
    assert events[-1] == MessageEnd(stop_reason=None, usage=Usage())


def test_decoder_empty_body_still_starts_and_ends() -> None:
    """With no chunks at all, finish() still gives a start and an end."""
    events = _decode_all([])
    assert [type(e) for e in events] == [MessageStart, MessageEnd]


def test_decoder_error_chunk_is_stream_error_and_ends_nothing() -> None:
    """A chunk with an error key becomes StreamError with the kind from its status; finish adds nothing."""
    decoder = StreamDecoder()
    decoder.feed(_chunk([{"text": "a"}]))
    error = orjson.dumps({"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}})
    assert decoder.feed(error) == [StreamError(status=429, kind="rate_limit", message="Quota")]
    assert decoder.finish() == []


def test_decoder_non_json_payload_is_stream_error() -> None:
    """A payload that is not JSON is reported, not raised."""
    events = StreamDecoder().feed(b"<html>")
    assert len(events) == 1
    assert isinstance(events[0], StreamError)
    assert events[0].status == 502


def test_decoder_array_payload() -> None:
    """A JSON array of responses (the non-SSE stream shape) is decoded element by element."""
    payload = orjson.dumps([{"candidates": [{"content": {"parts": [{"text": "a"}]}}]}])
    events = StreamDecoder().feed(payload)
    assert BlockDelta(index=0, kind="text", value="a") in events


# ---------------------------------------------------------------------------------------------
# StreamEncoder


def test_encoder_writes_only_data_lines() -> None:
    """Each delta is one `data: <json>` event; starts and stops write nothing."""
    encoder = StreamEncoder(model="alias")
    assert encoder.encode(MessageStart(id="r1", model="up")) == b""
    assert encoder.encode(BlockStart(index=0, part=TextPart(text=""))) == b""
    out = encoder.encode(BlockDelta(index=0, kind="text", value="Hi"))
    assert out.startswith(b"data: ")
    assert out.endswith(b"\n\n")
    assert out.count(b"\n") == 2
    assert orjson.loads(out[6:]) == {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "index": 0}],
        "modelVersion": "alias",
        "responseId": "r1",
    }
    assert encoder.encode(BlockStop(index=0)) == b""


def test_encoder_buffers_tool_call_until_stop() -> None:
    """JSON fragments of a call are held and the whole functionCall goes out at BlockStop."""
    encoder = StreamEncoder(model="m")
    encoder.encode(MessageStart(id="r", model="m"))
    encoder.encode(BlockStart(index=0, part=ToolCallPart(id="toolu_1", name="f", signature="c2ln")))
    assert encoder.encode(BlockDelta(index=0, kind="json", value='{"a":')) == b""
    assert encoder.encode(BlockDelta(index=0, kind="json", value="1}")) == b""
    chunk = orjson.loads(encoder.encode(BlockStop(index=0))[6:])
    assert chunk["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"}
    ]


def test_encoder_malformed_tool_arguments_become_an_error_chunk() -> None:
    """Arguments that do not parse as a JSON object are reported in-band, not sent as a call."""
    encoder = StreamEncoder(model="m")
    encoder.encode(BlockStart(index=0, part=ToolCallPart(id="t", name="f")))
    encoder.encode(BlockDelta(index=0, kind="json", value="[1"))
    error = orjson.loads(encoder.encode(BlockStop(index=0))[6:])
    assert error["error"]["code"] == 502
    assert "'f'" in error["error"]["message"]


def test_encoder_thinking_and_signature() -> None:
    """Thinking deltas are thought parts; a signature delta is an empty thought part carrying it."""
    encoder = StreamEncoder(model="m")
    encoder.encode(BlockStart(index=0, part=ThinkingPart(text="")))
    thought = orjson.loads(encoder.encode(BlockDelta(index=0, kind="thinking", value="hmm"))[6:])
    signed = orjson.loads(encoder.encode(BlockDelta(index=0, kind="signature", value="c2ln"))[6:])
    assert thought["candidates"][0]["content"]["parts"] == [{"text": "hmm", "thought": True}]
    assert signed["candidates"][0]["content"]["parts"] == [
        {"text": "", "thought": True, "thoughtSignature": "c2ln"}
    ]


def test_encoder_ignores_redacted_thinking_and_empty_text() -> None:
    """Redacted thinking has no Gemini form; empty text deltas send nothing."""
    encoder = StreamEncoder(model="m")
    encoder.encode(BlockStart(index=0, part=RedactedThinkingPart(data="x")))
    assert encoder.encode(BlockDelta(index=0, kind="thinking", value="x")) == b""
    assert encoder.encode(BlockStop(index=0)) == b""
    encoder.encode(BlockStart(index=1, part=TextPart(text="")))
    assert encoder.encode(BlockDelta(index=1, kind="text", value="")) == b""


def test_encoder_message_end_has_finish_reason_and_usage() -> None:
    """The last chunk carries finishReason, usageMetadata and an empty text part."""
    encoder = StreamEncoder(model="m")
    encoder.encode(MessageStart(id="r", model="m"))
    chunk = orjson.loads(
        encoder.encode(MessageEnd(stop_reason="max_tokens", usage=Usage(input_tokens=3, output_tokens=4)))[6:]
    )
    assert chunk == {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
        "modelVersion": "m",
        "responseId": "r",
    }


def test_encoder_stream_error() -> None:
    """A StreamError is a data chunk whose only key is error, with the Gemini status name."""
    out = StreamEncoder(model="m").encode(StreamError(status=529, kind="overloaded", message="Busy"))
    assert out == b'data: {"error":{"code":503,"message":"Busy","status":"UNAVAILABLE"}}\n\n'


# ---------------------------------------------------------------------------------------------
# Round trip: canonical events -> encoder bytes -> SSE framing -> decoder -> canonical events

_signature = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
_text = st.text(min_size=1, max_size=12)


@st.composite
def _blocks(draw: st.DrawFn) -> list[ContentPart]:
    """Final contents with no two adjacent text (or thinking) blocks, which Gemini would merge."""
    blocks: list[ContentPart] = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "thinking", "tool"]))
        if blocks and kind != "tool" and type(blocks[-1]) is (TextPart if kind == "text" else ThinkingPart):
            continue
        if kind == "text":
            blocks.append(TextPart(text=draw(_text)))
        elif kind == "thinking":
            blocks.append(ThinkingPart(text=draw(_text), signature=draw(st.none() | _signature)))
        else:
            blocks.append(
                ToolCallPart(
                    id=draw(st.from_regex(r"toolu_[a-z0-9]{4}", fullmatch=True)),
                    name=draw(st.sampled_from(["f", "g"])),
                    arguments=draw(
                        st.dictionaries(
                            st.text(max_size=4),
                            st.integers(-(2**53), 2**53) | st.text(max_size=4),
                            max_size=3,
                        )
                    ),
                    signature=draw(st.none() | _signature),
                )
            )
    return blocks


def _events_for(
    blocks: list[ContentPart], stop: StopReason, usage: Usage, draw: Callable[..., Any]
) -> list[StreamEvent]:
    events: list[StreamEvent] = [MessageStart(id="resp-1", model="upstream")]
    for index, block in enumerate(blocks):
        if isinstance(block, TextPart | ThinkingPart):
            kind: DeltaKind = "text" if isinstance(block, TextPart) else "thinking"
            events.append(
                BlockStart(index=index, part=TextPart(text="") if kind == "text" else ThinkingPart(text=""))
            )
            cuts = sorted(draw(st.sets(st.integers(1, max(len(block.text) - 1, 1)), max_size=3)))
            pieces = [block.text[a:b] for a, b in zip([0, *cuts], [*cuts, len(block.text)], strict=True)]
            events.extend(BlockDelta(index=index, kind=kind, value=p) for p in pieces if p)
            if isinstance(block, ThinkingPart) and block.signature:
                events.append(BlockDelta(index=index, kind="signature", value=block.signature))
        else:
            assert isinstance(block, ToolCallPart)
            events.append(
                BlockStart(
                    index=index, part=ToolCallPart(id=block.id, name=block.name, signature=block.signature)
                )
            )
            raw = orjson.dumps(block.arguments).decode()
            half = len(raw) // 2
            events.extend(
                BlockDelta(index=index, kind="json", value=p) for p in (raw[:half], raw[half:]) if p
            )
        events.append(BlockStop(index=index))
    events.append(MessageEnd(stop_reason=stop, usage=usage))
    return events


def _collect(events: list[StreamEvent]) -> tuple[list[ContentPart], StreamEvent]:
    """The final content a stream describes, checking block indices run 0, 1, 2..."""
    blocks: list[ContentPart] = []
    args: dict[int, str] = {}
    for event in events[1:-1]:
        if isinstance(event, BlockStart):
            assert event.index == len(blocks)
            part = event.part
            if isinstance(part, ToolCallPart):
                part = ToolCallPart(id=part.id, name=part.name, signature=part.signature)
            blocks.append(part)
        elif isinstance(event, BlockDelta):
            assert event.index == len(blocks) - 1
            block = blocks[event.index]
            if event.kind == "json":
                args[event.index] = args.get(event.index, "") + event.value
            elif event.kind == "signature":
                assert isinstance(block, ThinkingPart)
                block.signature = event.value
            else:
                assert isinstance(block, TextPart | ThinkingPart)
                block.text += event.value
    for index, raw in args.items():
        block = blocks[index]
        assert isinstance(block, ToolCallPart)
        block.arguments = orjson.loads(raw)
    return blocks, events[-1]


@settings(max_examples=200)
@given(st.data())
def test_stream_round_trip(data: st.DataObject) -> None:
    """Encoded bytes, cut at random points and re-framed, decode to the same message.

    Normalisations: the start's usage is what the first chunk reports (none here); adjacent blocks
    of one kind merge (not generated); tool-call ids survive because the surface sends them.
    """
    blocks = data.draw(_blocks())
    has_calls = any(isinstance(b, ToolCallPart) for b in blocks)
    stops: list[StopReason] = ["tool_use" if has_calls else "end_turn", "max_tokens"]
    stop = data.draw(st.sampled_from(stops))
    output = data.draw(st.integers(0, 1000))
    usage = Usage(
        input_tokens=data.draw(st.integers(0, 1000)),
        output_tokens=output,
        reasoning_tokens=data.draw(st.integers(0, output)),
    )
    encoder = StreamEncoder(model="alias")
    wire = b"".join(encoder.encode(e) for e in _events_for(blocks, stop, usage, data.draw))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(wire)), max_size=6)))
    splitter, decoder = FrameSplitter(), StreamDecoder()
    decoded: list[StreamEvent] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        for frame in splitter.feed(wire[a:b]):
            event, payload = parse_frame(frame)
            assert event is None
            assert payload is not None
            decoded.extend(decoder.feed(payload))
    assert splitter.flush() == b""
    decoded.extend(decoder.finish())
    start = decoded[0]
    assert isinstance(start, MessageStart)
    assert (start.id, start.model) == ("resp-1", "alias")
    content, end = _collect(decoded)
    assert content == blocks
    assert end == MessageEnd(stop_reason=stop, usage=usage)


def test_decoder_skips_nameless_call_and_coerces_args() -> None:
    """A call without a name opens no block; non-object args read as an empty object."""
    events = _decode_all(
        [_chunk([{"functionCall": {"args": {}}}, {"functionCall": {"name": "f", "args": [1]}}])]
    )
    deltas = [e for e in events if isinstance(e, BlockDelta)]
    assert deltas == [BlockDelta(index=0, kind="json", value="{}")]
