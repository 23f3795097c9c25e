"""Property tests: canonical -> OpenAI wire -> canonical gives back what OpenAI can carry.

Each test generates canonical values, encodes them to OpenAI JSON (through real JSON bytes), decodes
them back and compares with the input *normalised* to what the OpenAI protocol can express. The
normalisation is listed in each test's docstring; anything else that changes is a bug.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StopReason,
    StreamEvent,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.openai._content import default_filename
from bastion.protocols.openai.request import decode_request, encode_request
from bastion.protocols.openai.response import decode_response, encode_response
from bastion.protocols.openai.stream import StreamDecoder, StreamEncoder
from bastion.protocols.sse import FrameSplitter, parse_frame

# --------------------------------------------------------------------------------------------
# Strategies

texts = st.text(max_size=20)
nonempty = st.text(min_size=1, max_size=20)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(texts, json_values, max_size=4)
counts = st.integers(0, 10**7)

images = st.one_of(
    st.builds(ImagePart, media_type=st.sampled_from(["image/png", "image/jpeg"]), data=nonempty,
              detail=st.sampled_from([None, "low", "high", "auto"])),
    st.builds(ImagePart, url=st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9]{0,8}\.png", fullmatch=True),
              detail=st.sampled_from([None, "low"])),
)  # fmt: skip
documents = st.builds(DocumentPart, media_type=st.just("application/pdf"), data=nonempty,
                      filename=st.none() | st.just("a.pdf"))  # fmt: skip
text_parts = st.builds(TextPart, texts, cache_control=st.none() | st.just({"type": "ephemeral"}))
tool_results = st.builds(
    ToolResultPart, ids, st.lists(st.builds(TextPart, nonempty), max_size=2), is_error=st.booleans()
)
user_messages = st.builds(
    Message, st.just("user"), st.lists(text_parts | images | documents | tool_results, min_size=1, max_size=4)
)
assistant_parts = (
    text_parts
    | st.builds(ToolCallPart, ids, nonempty, arguments, signature=st.none() | nonempty)
    | st.builds(ThinkingPart, texts, st.none() | nonempty)
    | st.builds(RedactedThinkingPart, nonempty)
)
assistant_messages = st.builds(Message, st.just("assistant"), st.lists(assistant_parts, max_size=4))
finite = st.floats(0, 2, allow_nan=False)
tools = st.lists(
    st.builds(
        Tool,
        nonempty,
        st.none() | texts,
        st.just({"type": "object", "properties": {"a": {"type": "string"}}}),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn) -> ChatRequest:
    req = ChatRequest(
        model=draw(nonempty),
        messages=draw(st.lists(user_messages | assistant_messages, min_size=1, max_size=5)),
        system=draw(st.lists(text_parts, max_size=3)),
        max_tokens=draw(st.none() | st.integers(1, 10**6)),
        temperature=draw(st.none() | finite),
        top_p=draw(st.none() | st.floats(0, 1, allow_nan=False)),
        stop=draw(st.lists(nonempty, max_size=4)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        reasoning_effort=draw(st.none() | st.sampled_from(["low", "medium", "high"])),
        stream=draw(st.booleans()),
        user=draw(st.none() | nonempty),
        n=draw(st.none() | st.integers(1, 4)),
        response_format=draw(
            st.none()
            | st.just({"type": "json_object"})
            | st.builds(
                lambda n: {"type": "json_schema", "name": n, "schema": {"type": "object"}, "strict": True},
                ids,
            )
        ),
    )
    if draw(st.booleans()):
        req.tools = draw(tools)
        modes: list[Literal["auto", "any", "none", "tool"] | None] = ["auto", "any", "none", "tool", None]
        mode = draw(st.sampled_from(modes))
        if mode is not None:
            name = req.tools[0].name if mode == "tool" else None
            req.tool_choice = ToolChoice(mode, name, draw(st.none() | st.booleans()))
    return req


# --------------------------------------------------------------------------------------------
# Normalisation: what the OpenAI protocol cannot carry


def _normalise_request(req: ChatRequest) -> ChatRequest:
    messages: list[Message] = []
    for msg in req.messages:
        if msg.role == "assistant":
            text = "".join(p.text for p in msg.content if isinstance(p, TextPart))
            calls = [
                dataclasses.replace(p, signature=None) for p in msg.content if isinstance(p, ToolCallPart)
            ]
            content: list[ContentPart] = [TextPart(text)] if text else []
            messages.append(Message("assistant", [*content, *calls]))
            continue
        results = [
            dataclasses.replace(p, is_error=False, name=None, content=list(p.content))
            for p in msg.content
            if isinstance(p, ToolResultPart)
        ]
        rest = [_plain(p) for p in msg.content if not isinstance(p, ToolResultPart)]
        merged = results + rest
        if messages and messages[-1].role == "user":
            messages[-1].content.extend(merged)  # adjacent user turns: the split is not preserved
        else:
            messages.append(Message("user", merged))
    return dataclasses.replace(
        req,
        messages=messages,
        system=[TextPart(p.text) for p in req.system],
        tool_choice=req.tool_choice if req.tools else None,
    )


def _plain(part: ContentPart) -> ContentPart:
    if isinstance(part, TextPart):
        return TextPart(part.text)
    if isinstance(part, DocumentPart) and part.filename is None:
        return dataclasses.replace(part, filename=default_filename(part.media_type))
    return part


@settings(max_examples=200, deadline=None)
@given(requests())
def test_request_roundtrip(req: ChatRequest) -> None:
    """decode_request(encode_request(x)) == x, normalised: thinking parts, cache_control, tool-call
    signatures and tool-result is_error are dropped (no OpenAI field); assistant texts join into one;
    in user turns tool results come first and adjacent user turns merge (tool messages split a turn
    and a following user message joins the results); tool-result names are compared as absent (they
    come from the calls, tested elsewhere); tool_choice needs tools; documents get a filename."""
    wire = orjson.loads(orjson.dumps(encode_request(req, req.model, drop_params=False)))
    back = decode_request(wire)
    for msg in back.messages:
        for part in msg.content:
            if isinstance(part, ToolResultPart):
                part.name = None
    assert _normalise_request(back) == _normalise_request(req)
    assert back.stream == req.stream


# --------------------------------------------------------------------------------------------
# Responses

_STOPS: list[StopReason | None] = [
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "refusal",
    "pause_turn",
    None,
]
stop_reasons = st.sampled_from(_STOPS)
usages = st.builds(Usage, counts, counts, counts, counts, counts)


@st.composite
def responses(draw: st.DrawFn) -> ChatResponse:
    thinking = draw(
        st.lists(
            st.builds(ThinkingPart, texts, st.none() | nonempty) | st.builds(RedactedThinkingPart, nonempty),
            max_size=2,
        )
    )
    text = draw(st.lists(st.builds(TextPart, texts), max_size=2))
    calls = draw(st.lists(st.builds(ToolCallPart, ids, nonempty, arguments), max_size=3))
    return ChatResponse(
        id="chatcmpl-" + draw(ids),
        model=draw(nonempty),
        content=[*thinking, *text, *calls],
        stop_reason=draw(stop_reasons),
        usage=draw(usages),
    )


_SAME_FINISH: dict[StopReason | None, StopReason] = {
    "stop_sequence": "end_turn",
    "pause_turn": "end_turn",
    None: "end_turn",
}


def _normalise_response(resp: ChatResponse) -> ChatResponse:
    thinking = [p for p in resp.content if isinstance(p, ThinkingPart | RedactedThinkingPart)]
    text = "".join(p.text for p in resp.content if isinstance(p, TextPart))
    calls = [p for p in resp.content if isinstance(p, ToolCallPart)]
    stop = resp.stop_reason
    stop = _SAME_FINISH.get(stop, stop)
    if calls and stop == "end_turn":
        stop = "tool_use"
    content: list[ContentPart] = [*thinking, *([TextPart(text)] if text else []), *calls]
    return dataclasses.replace(resp, content=content, stop_reason=stop, stop_sequence=None)


@settings(max_examples=200, deadline=None)
@given(responses())
def test_response_roundtrip(resp: ChatResponse) -> None:
    """decode_response(encode_response(x)) == x, normalised: texts join into one; stop_sequence,
    pause_turn and no reason all read back as end_turn (OpenAI says "stop"), and "stop" with tool
    calls reads back as tool_use; the encoded body also validates as the SDK's ChatCompletion."""
    wire = orjson.loads(orjson.dumps(encode_response(resp, resp.model)))
    ChatCompletion.model_validate(wire)
    assert _normalise_response(decode_response(wire)) == _normalise_response(resp)


# --------------------------------------------------------------------------------------------
# Streams

blocks = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.lists(texts, min_size=1, max_size=4)),
        st.tuples(st.just("thinking"), st.lists(texts, min_size=1, max_size=3)),
        st.tuples(st.just("tool"), ids, nonempty, arguments, st.integers(1, 4)),
    ),
    max_size=5,
)


def _events(
    message_id: str, plan: list[tuple[Any, ...]], stop: StopReason | None, usage: Usage
) -> list[StreamEvent]:
    events: list[StreamEvent] = [MessageStart(message_id, "upstream")]
    for index, block in enumerate(plan):
        if block[0] == "tool":
            _, call_id, name, args, pieces = block
            events.append(BlockStart(index, ToolCallPart(call_id, name)))
            raw = orjson.dumps(args).decode()
            size = max(1, len(raw) // pieces)
            events.extend(BlockDelta(index, "json", raw[i : i + size]) for i in range(0, len(raw), size))
        else:
            kind, pieces = block
            events.append(BlockStart(index, TextPart("") if kind == "text" else ThinkingPart("")))
            events.extend(BlockDelta(index, kind, piece) for piece in pieces)
            if kind == "thinking":
                events.append(BlockDelta(index, "signature", "sig"))
        events.append(BlockStop(index))
    events.append(MessageEnd(stop, usage))
    return events


def _summary(
    events: list[StreamEvent],
) -> tuple[str, str, list[tuple[str, str, Any]], StopReason | None, Usage]:
    text, thinking = [], []
    calls: list[tuple[str, str, list[str]]] = []
    kinds: dict[int, str] = {}
    end: MessageEnd | None = None
    for event in events:
        if isinstance(event, BlockStart):
            kinds[event.index] = type(event.part).__name__
            if isinstance(event.part, ToolCallPart):
                calls.append((event.part.id, event.part.name, []))
        elif isinstance(event, BlockDelta):
            if event.kind == "text":
                text.append(event.value)
            elif event.kind == "thinking":
                thinking.append(event.value)
            elif event.kind == "json":
                calls[-1][2].append(event.value)
        elif isinstance(event, MessageEnd):
            end = event
    assert end is not None
    parsed = [(cid, name, orjson.loads("".join(frags) or "{}")) for cid, name, frags in calls]
    return "".join(text), "".join(thinking), parsed, end.stop_reason, end.usage


@settings(max_examples=100, deadline=None)
@given(ids, blocks, stop_reasons, usages, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_stream_roundtrip(
    message_id: str, plan: list[tuple[Any, ...]], stop: StopReason | None, usage: Usage, cuts: list[int]
) -> None:
    """StreamEncoder bytes, cut into arbitrary TCP-sized pieces and read back with FrameSplitter,
    parse_frame and StreamDecoder, give the same text, thinking text, tool calls, usage and stop
    reason (normalised as for responses: OpenAI has one "stop"; signatures are not carried). Every
    chunk validates as the SDK's ChatCompletionChunk."""
    encoder = StreamEncoder(model="alias", include_usage=True, created=1)
    sent = _events(message_id, plan, stop, usage)
    wire = b"".join(encoder.encode(event) for event in sent)
    splitter, decoder = FrameSplitter(), StreamDecoder()
    received: list[StreamEvent] = []
    start = 0
    pieces = iter(cuts * (len(wire) // max(sum(cuts), 1) + 1))
    while start < len(wire):
        end = start + next(pieces)
        for frame in splitter.feed(wire[start:end]):
            _, data = parse_frame(frame)
            assert data is not None
            if data != b"[DONE]":
                ChatCompletionChunk.model_validate(orjson.loads(data))
            received.extend(decoder.feed(data))
        start = end
    received.extend(decoder.finish())
    assert isinstance(received[0], MessageStart)
    assert received[0].id == "chatcmpl-" + message_id
    assert sum(isinstance(e, MessageEnd) for e in received) == 1
    got_text, got_thinking, got_calls, got_stop, got_usage = _summary(received)
    want_text, want_thinking, want_calls, want_stop, want_usage = _summary(sent)
    assert (got_text, got_thinking, got_calls, got_usage) == (
        want_text,
        want_thinking,
        want_calls,
        want_usage,
    )
    want_stop = _SAME_FINISH.get(want_stop, want_stop)
    if want_calls and want_stop == "end_turn":
        want_stop = "tool_use"
    assert got_stop == want_stop
