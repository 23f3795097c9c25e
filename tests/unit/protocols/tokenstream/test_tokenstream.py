"""The browser token stream's wire format: canonical events in, the seed's ``data:`` lines out."""

from __future__ import annotations

import orjson

from bastion.domain.errors import InvalidRequestError, RateLimitError, UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import BlockDelta, BlockStart, BlockStop, MessageEnd, MessageStart, TextPart
from bastion.protocols.tokenstream.errors import render_error, retryable_status, stream_error_event
from bastion.protocols.tokenstream.stream import DONE, StreamEncoder


def parse(raw: bytes) -> list[object]:
    out: list[object] = []
    for frame in raw.split(b"\n\n"):
        if frame:
            assert frame.startswith(b"data: ")
            payload = frame[6:]
            out.append("[DONE]" if payload == b"[DONE]" else orjson.loads(payload))
    return out


def run(*texts: str, elapsed: float = 12.4) -> tuple[list[bytes], list[object]]:
    encoder = StreamEncoder(lambda: elapsed)
    events = [
        MessageStart(id="m", model="x"),
        BlockStart(index=0, part=TextPart(text="")),
        *(BlockDelta(index=0, kind="text", value=t) for t in texts),
        BlockStop(index=0),
        MessageEnd(stop_reason="end_turn", usage=Usage(input_tokens=1, output_tokens=len(texts))),
    ]
    outputs = [encoder.encode(event) for event in events]
    return outputs, parse(b"".join(outputs))


def test_the_seed_example() -> None:
    _, chunks = run("Hello", "!", " How", " can", " I", " help", "?", elapsed=245.2)
    assert chunks == [
        {"token": "Hello", "tokenId": 0, "isFirst": True, "ttfbMs": 245},
        {"token": "!", "tokenId": 1},
        {"token": " How", "tokenId": 2},
        {"token": " can", "tokenId": 3},
        {"token": " I", "tokenId": 4},
        {"token": " help", "tokenId": 5},
        {"token": "?", "tokenId": 6, "isLast": True},
        "[DONE]",
    ]


def test_the_first_token_leaves_at_once_later_ones_one_behind() -> None:
    outputs, _ = run("a", "b", "c")
    # message start, block start, "a" (sent), "b" (held), "c" (releases b), block stop, end
    assert parse(outputs[2]) == [{"token": "a", "tokenId": 0, "isFirst": True, "ttfbMs": 12}]
    assert outputs[3] == b""
    assert parse(outputs[4]) == [{"token": "b", "tokenId": 1}]
    assert parse(outputs[6]) == [{"token": "c", "tokenId": 2, "isLast": True}, "[DONE]"]


def test_a_one_token_answer_ends_with_an_empty_last_token() -> None:
    _, chunks = run("Hi")
    assert chunks == [
        {"token": "Hi", "tokenId": 0, "isFirst": True, "ttfbMs": 12},
        {"token": "", "tokenId": 1, "isLast": True},
        "[DONE]",
    ]


def test_an_answer_without_text_is_just_done() -> None:
    assert run()[1] == ["[DONE]"]


def test_thinking_and_tool_arguments_are_not_tokens() -> None:
    encoder = StreamEncoder(lambda: 1.0)
    assert encoder.encode(BlockDelta(index=0, kind="thinking", value="hmm")) == b""
    assert encoder.encode(BlockDelta(index=1, kind="json", value='{"a"')) == b""
    assert encoder.encode(BlockDelta(index=2, kind="text", value="")) == b""
    assert parse(encoder.encode(BlockDelta(index=2, kind="text", value="ok")))[0] == {
        "token": "ok",
        "tokenId": 0,
        "isFirst": True,
        "ttfbMs": 1,
    }


def test_errors_before_the_stream() -> None:
    status, body, headers = render_error(RateLimitError("slow down", retry_after=2.2))
    assert status == 429 and headers == {"retry-after": "3"}
    assert orjson.loads(body) == {
        "error": {
            "type": "rate_limit_error",
            "message": "slow down",
            "retryable": True,
            "status": 429,
            "retryAfter": 3,
        }
    }
    status, body, headers = render_error(InvalidRequestError("Invalid model: x"))
    assert status == 400 and headers == {}
    assert orjson.loads(body)["error"]["retryable"] is False
    assert orjson.loads(render_error(UpstreamError("down", status=502))[1])["error"]["type"] == "api_error"


def test_an_error_inside_the_stream_is_one_data_line() -> None:
    frame = stream_error_event(529, "overloaded", "busy")
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n") and frame.count(b"\n") == 2
    assert orjson.loads(frame[6:]) == {
        "error": {"type": "overloaded_error", "message": "busy", "retryable": True, "status": 529}
    }


def test_retryable_statuses() -> None:
    assert [
        s for s in (400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 529) if retryable_status(s)
    ] == [
        408,
        409,
        429,
        500,
        502,
        503,
        529,
    ]
    assert DONE == b"data: [DONE]\n\n"


def test_flush_gives_up_the_held_token_without_is_last() -> None:
    encoder = StreamEncoder(lambda: 5.0)
    encoder.encode(BlockDelta(index=0, kind="text", value="a"))
    assert encoder.encode(BlockDelta(index=0, kind="text", value="b")) == b""
    assert parse(encoder.flush()) == [{"token": "b", "tokenId": 1}]
    assert encoder.flush() == b""
