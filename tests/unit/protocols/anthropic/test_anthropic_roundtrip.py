"""Property tests: canonical -> Anthropic wire -> canonical gives back what went in.

The generators produce canonical values Anthropic can express. Normalisations (documented in the
modules) are applied to the expected value, not hidden in the generators:

* request: tool results lead their user turn; a tool result's ``name`` is the name of the latest
  earlier call with its id (or ``None``); ``max_tokens`` is always set; texts are non-empty;
  thinking is signed; ``tool_choice`` only with tools; ``reasoning_effort`` is not generated
  (it becomes a budget, tested in the unit tests);
* response: ids start with ``msg_``; the stop reason is set; cache reads and writes fit in the
  input total;
* stream: the decoded ``MessageStart`` carries the encoder's model.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Literal

import anthropic.types
import orjson
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.domain.usage import Usage
from bastion.protocols.anthropic.request import decode_request, encode_request
from bastion.protocols.anthropic.response import decode_response, encode_response
from bastion.protocols.anthropic.stream import StreamDecoder, StreamEncoder
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
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.sse import FrameSplitter, parse_frame

_EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)

_text = st.text(min_size=1, max_size=20)
_ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
_cache = st.none() | st.just({"type": "ephemeral"})
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_arguments = st.dictionaries(st.text(max_size=8), _json, max_size=4)
_b64 = st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())

_image = st.builds(
    ImagePart,
    media_type=st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
    data=_b64,
) | st.builds(ImagePart, url=_text.map(lambda s: "https://img.test/" + s))
_document = (
    st.builds(DocumentPart, media_type=st.just("application/pdf"), data=_b64, filename=st.none() | _text)
    | st.builds(DocumentPart, url=_text.map(lambda s: "https://doc.test/" + s), filename=st.none() | _text)
    | st.builds(
        DocumentPart,
        media_type=st.just("text/plain"),
        data=st.text(max_size=20).map(lambda s: base64.b64encode(s.encode()).decode()),
        filename=st.none() | _text,
    )
)
_text_part = st.builds(TextPart, _text, _cache)
_tool_result = st.builds(
    ToolResultPart,
    tool_call_id=_ident,
    content=st.lists(_text_part | _image | _document, max_size=3),
    is_error=st.booleans(),
)
_user_part: st.SearchStrategy[ContentPart] = _text_part | _image | _document | _tool_result
_assistant_part: st.SearchStrategy[ContentPart] = (
    _text_part
    | st.builds(ThinkingPart, st.text(max_size=20), _text)
    | st.builds(RedactedThinkingPart, _text)
    | st.builds(ToolCallPart, _ident, _ident, _arguments)
)
_message = st.builds(Message, st.just("user"), st.lists(_user_part, min_size=1, max_size=4)) | st.builds(
    Message, st.just("assistant"), st.lists(_assistant_part, min_size=1, max_size=4)
)
_schema = st.builds(
    lambda props: {"type": "object", "properties": {k: {"type": "string"} for k in props}},
    st.lists(_ident, max_size=3),
)
_tool = st.builds(Tool, _ident, st.none() | _text, _schema)
_unit = st.floats(0, 1, allow_nan=False)
_server_tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}


@st.composite
def _requests(draw: st.DrawFn) -> ChatRequest:
    tools = draw(st.lists(_tool, max_size=3))
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        extra["server_tools"] = [_server_tool]
    if draw(st.booleans()):
        extra["container"] = draw(_ident)
    if draw(st.booleans()):
        extra["service_tier"] = draw(st.sampled_from(["auto", "standard_only"]))
    if draw(st.booleans()):
        extra["output_config"] = {"task_budget": draw(st.integers(1, 10))}
    tool_choice = None
    if tools or extra.get("server_tools"):
        modes: list[Literal["auto", "any", "none", "tool"]] = ["auto", "any", "none", "tool"]
        mode = draw(st.sampled_from(modes))
        tool_choice = ToolChoice(
            mode,
            name=draw(_ident) if mode == "tool" else None,
            parallel=None if mode == "none" else draw(st.none() | st.booleans()),
        )
    max_tokens = draw(st.integers(1, 200_000))
    req = ChatRequest(
        model=draw(_text),
        messages=draw(st.lists(_message, max_size=5)),
        system=draw(st.lists(_text_part, max_size=3)),
        max_tokens=max_tokens,
        temperature=draw(st.none() | _unit),
        top_p=draw(st.none() | _unit),
        top_k=draw(st.none() | st.integers(0, 500)),
        stop=draw(st.lists(_text, max_size=3)),
        tools=tools,
        tool_choice=tool_choice,
        response_format=draw(
            st.none() | _schema.map(lambda s: {"type": "json_schema", "name": "output", "schema": s})
        ),
        stream=draw(st.booleans()),
        user=draw(st.none() | _text),
        extra=extra,
    )
    thinking = draw(st.sampled_from(["off", "budget", "disabled"]))
    if thinking == "budget" and max_tokens > 1024:
        req.thinking_budget = draw(st.integers(1024, max_tokens - 1))
    elif thinking == "disabled":
        req.thinking_disabled = True
    return req


def _normalised(req: ChatRequest) -> ChatRequest:
    """What decode(encode(req)) should give: tool results first, their names looked up."""
    expected = copy.deepcopy(req)
    names: dict[str, str] = {}
    for message in expected.messages:
        if message.role == "user":
            message.content.sort(key=lambda p: not isinstance(p, ToolResultPart))
        for part in message.content:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
            elif isinstance(part, ToolResultPart):
                part.name = names.get(part.tool_call_id)
    return expected


@settings(max_examples=100, deadline=None)
@given(_requests())
def test_request_round_trip(req: ChatRequest) -> None:
    """decode_request(encode_request(x)) == x for requests Anthropic can express."""
    body = encode_request(req, req.model, drop_params=False)
    wire = orjson.loads(orjson.dumps(body))  # what really crosses the network
    assert decode_request(wire) == _normalised(req)


_usage_pairs = st.builds(
    lambda uncached, read, write, out, reasoning: Usage(
        input_tokens=uncached + read + write,
        output_tokens=out + reasoning,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    ),
    *(st.integers(0, 100_000) for _ in range(5)),
)
_stop_reasons: st.SearchStrategy[StopReason | None] = st.sampled_from(
    ["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]
)


_response_part: st.SearchStrategy[ContentPart] = (
    st.builds(TextPart, st.text(max_size=20))
    | st.builds(ThinkingPart, st.text(max_size=20), _text)
    | st.builds(RedactedThinkingPart, _text)
    | st.builds(ToolCallPart, _ident, _ident, _arguments)
)
_responses = st.builds(
    ChatResponse,
    id=_ident.map(lambda s: "msg_" + s),
    model=_text,
    content=st.lists(_response_part, max_size=5),
    stop_reason=_stop_reasons,
    usage=_usage_pairs,
    stop_sequence=st.none() | _text,
)


@settings(max_examples=100, deadline=None)
@given(_responses)
def test_response_round_trip(resp: ChatResponse) -> None:
    """decode_response(encode_response(x)) == x, and the body is a valid SDK Message."""
    body = encode_response(resp, resp.model)
    anthropic.types.Message.model_validate(body)
    assert decode_response(orjson.loads(orjson.dumps(body))) == resp


# ---------------------------------------------------------------------------------------------
# Streams

_errors = st.sampled_from(
    [
        (529, "overloaded"),
        (500, "api_error"),
        (429, "rate_limit"),
        (400, "invalid_request"),
        (401, "authentication"),
        (403, "permission"),
        (404, "not_found"),
        (402, "billing"),
        (413, "request_too_large"),
        (504, "timeout"),
    ]
)


@st.composite
def _block_events(draw: st.DrawFn, index: int) -> list[StreamEvent]:
    kind = draw(st.sampled_from(["text", "tool", "thinking", "redacted"]))
    pieces = draw(st.lists(st.text(max_size=8), max_size=4))
    events: list[StreamEvent]
    if kind == "text":
        events = [BlockStart(index, TextPart(""))]
        events += [BlockDelta(index, "text", p) for p in pieces]
    elif kind == "tool":
        events = [BlockStart(index, ToolCallPart(draw(_ident), draw(_ident)))]
        events += [BlockDelta(index, "json", p) for p in pieces]
    elif kind == "thinking":
        events = [BlockStart(index, ThinkingPart(""))]
        events += [BlockDelta(index, "thinking", p) for p in pieces]
        if draw(st.booleans()):
            events.append(BlockDelta(index, "signature", draw(_text)))
    else:
        events = [BlockStart(index, RedactedThinkingPart(draw(_text)))]
    return [*events, BlockStop(index)]


@st.composite
def _streams(draw: st.DrawFn) -> list[StreamEvent]:
    start_usage = draw(_usage_pairs)
    start_usage.output_tokens = draw(st.integers(0, 1))
    start_usage.reasoning_tokens = 0
    events: list[StreamEvent] = [MessageStart("msg_" + draw(_ident), "upstream-model", start_usage)]
    for index in range(draw(st.integers(0, 4))):
        events += draw(_block_events(index))
    if draw(st.booleans()):
        status, kind = draw(_errors)
        events.append(StreamError(status, kind, draw(_text)))
    else:
        end_usage = draw(_usage_pairs)
        if draw(st.booleans()):  # a translator that learned nothing about the prompt
            end_usage.input_tokens = end_usage.cache_read_tokens = end_usage.cache_write_tokens = 0
        events.append(MessageEnd(draw(_stop_reasons), end_usage, draw(st.none() | _text)))
    return events


def _expected_stream(events: list[StreamEvent]) -> list[StreamEvent]:
    expected = copy.deepcopy(events)
    start = expected[0]
    assert isinstance(start, MessageStart)
    start.model = "alias"
    end = expected[-1]
    if isinstance(end, MessageEnd) and not end.usage.input_tokens:
        # message_delta left the prompt counts out: the SDK (and our decoder) keep message_start's.
        end.usage.input_tokens = start.usage.input_tokens
        end.usage.cache_read_tokens = start.usage.cache_read_tokens
        end.usage.cache_write_tokens = start.usage.cache_write_tokens
    return expected


@settings(max_examples=100, deadline=None)
@given(_streams(), st.integers(1, 64))
def test_stream_round_trip(events: list[StreamEvent], chunk: int) -> None:
    """Encoder bytes, split in arbitrary chunks, framed and decoded, give back the same events."""
    encoder = StreamEncoder(model="alias")
    raw = b"".join(encoder.encode(e) for e in events)
    splitter, decoder = FrameSplitter(), StreamDecoder()
    decoded: list[StreamEvent] = []
    for i in range(0, len(raw), chunk):
        for frame in splitter.feed(raw[i : i + chunk]):
            name, data = parse_frame(frame)
            assert data is not None
            payload = orjson.loads(data)
            assert name == payload["type"]
            if name != "error":
                _EVENT_ADAPTER.validate_python(payload)
            decoded.extend(decoder.feed(name, data))
    decoded.extend(decoder.finish())
    assert splitter.flush() == b""
    assert decoded == _expected_stream(events)
