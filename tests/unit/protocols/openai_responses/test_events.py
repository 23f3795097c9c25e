"""An upstream's Responses stream, read back: canonical events, the final response, the usage."""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageEnd,
    MessageStart,
    StreamError,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai_responses.events import StreamDecoder, final_in_frames, terminal_response
from bastion.protocols.openai_responses.items import continued_input, listed_items, normalized_input
from bastion.protocols.openai_responses.response import Echo, decode_response, encode_response
from bastion.protocols.openai_responses.stream import StreamEncoder
from bastion.protocols.sse import FrameSplitter, parse_frame
from bastion.providers.openai_responses import ResponsesSniffer

_USAGE = Usage(input_tokens=9, output_tokens=5, cache_read_tokens=2, reasoning_tokens=1)
_TURN = [
    MessageStart("x", "m"),
    BlockStart(0, ThinkingPart("")),
    BlockDelta(0, "thinking", "hmm"),
    BlockDelta(0, "signature", "sig"),
    BlockStop(0),
    BlockStart(1, TextPart("")),
    BlockDelta(1, "text", "Hi"),
    BlockStop(1),
    BlockStart(2, ToolCallPart("call_1", "f")),
    BlockDelta(2, "json", '{"a": 1}'),
    BlockStop(2),
    MessageEnd("tool_use", _USAGE),
]


def _frames(events: list[Any]) -> list[tuple[str | None, bytes]]:
    encoder = StreamEncoder(Echo.of({}, "m"))
    raw = b"".join(encoder.encode(e) for e in events)
    splitter = FrameSplitter()
    out = []
    for frame in [*splitter.feed(raw), *splitter.finish()]:
        event, data = parse_frame(frame)
        assert data is not None
        out.append((event, data))
    return out


def test_our_own_stream_decodes_back_to_the_same_answer() -> None:
    """Encoding canonical events and decoding the stream gives the same blocks, stop and usage."""
    decoder = StreamDecoder()
    got = [e for event, data in _frames(_TURN) for e in decoder.feed(event, data)] + decoder.finish()
    assert isinstance(got[0], MessageStart)
    assert [type(e).__name__ for e in got[1:]] == [
        "BlockStart", "BlockDelta", "BlockDelta", "BlockStop",
        "BlockStart", "BlockDelta", "BlockStop",
        "BlockStart", "BlockDelta", "BlockStop",
        "MessageEnd",
    ]  # fmt: skip
    assert got[2] == BlockDelta(0, "thinking", "hmm") and got[3] == BlockDelta(0, "signature", "sig")
    assert got[8] == BlockStart(2, ToolCallPart("call_1", "f"))
    end = got[-1]
    assert isinstance(end, MessageEnd) and end.stop_reason == "tool_use"
    assert end.usage == Usage(input_tokens=9, output_tokens=5, cache_read_tokens=2, reasoning_tokens=1)


def test_terminal_response_and_sniffer() -> None:
    """The final frame carries the response; the sniffer reads its usage and counts deltas."""
    frames = _frames(_TURN)
    sniffer = ResponsesSniffer()
    for event, data in frames:
        sniffer.observe(b"", event, data)
    assert sniffer.reported and sniffer.usage.output_tokens == 5 and sniffer.content_frames == 3
    assert sniffer.error is None
    event, data = frames[-1]
    final = terminal_response(event, data)
    assert final is not None and final["status"] == "completed"
    assert terminal_response(*frames[0]) is None
    raw = b"".join(b"event: " + (e or "").encode() + b"\ndata: " + d + b"\n\n" for e, d in frames)
    assert final_in_frames(raw) == final
    assert final_in_frames(raw[: raw.rindex(b"event: response.completed")]) is None


def test_failures_are_stream_errors() -> None:
    """An ``error`` or ``response.failed`` event, or a stream that never started, is an error."""
    decoder = StreamDecoder()
    failed = orjson.dumps({"type": "response.failed", "response": {"error": {"message": "boom"}}})
    assert decoder.feed("response.failed", failed)[-1] == StreamError(500, "api_error", "boom")
    assert isinstance(StreamDecoder().finish()[0], StreamError)
    sniffer = ResponsesSniffer()
    sniffer.observe(b"", "error", b'{"type":"error","message":"x"}')
    assert sniffer.error == (500, "api_error")


def test_decode_response_reads_items_back() -> None:
    """A response object decodes to the canonical answer it was encoded from."""
    from bastion.protocols.canonical import ChatResponse

    resp = ChatResponse(
        "x",
        "m",
        [ThinkingPart("t", "s"), TextPart("hi"), ToolCallPart("c", "f", {"a": 1})],
        "tool_use",
        _USAGE,
    )
    back = decode_response(encode_response(resp, Echo.of({}, "m")))
    assert back.content == resp.content and back.stop_reason == "tool_use"
    assert back.usage == _USAGE


def test_continued_input_replays_the_stored_turns() -> None:
    """Stored input, then the stored output as input items (bare reasoning summaries dropped),
    then the new input; listing gives every item an id."""
    stored_input = normalized_input("q")
    output = [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "t"}],
            "encrypted_content": None,
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "a"}],
        },
        {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    ]
    out = continued_input(
        stored_input, output, [{"type": "function_call_output", "call_id": "call_1", "output": "r"}]
    )
    assert [item.get("type") for item in out] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert out[1] == {"type": "message", "role": "assistant", "content": output[1]["content"], "id": "msg_1"}
    listed = listed_items(out, "resp_abc")
    assert [item["id"] for item in listed] == ["msg_abc_0", "msg_1", "fc_1", "item_abc_3"]
    assert listed_items(out, "resp_abc") == listed
    assert listed[0]["content"] == [{"type": "input_text", "text": "q"}]
