"""The official OpenAI SDK against the OpenAI codecs, through an in-memory transport (no sockets).

The SDK builds real request bodies (decoded with decode_request) and parses what the encoders write,
so these tests pin the wire shapes to what the SDK actually sends and accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import orjson
import pytest

from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    ModelNotFoundError,
    RateLimitError,
    UpstreamError,
)
from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ImagePart,
    MessageEnd,
    MessageStart,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.openai.embeddings import decode_embeddings_request, encode_embeddings_response
from bastion.protocols.openai.errors import render_error
from bastion.protocols.openai.request import decode_request
from bastion.protocols.openai.response import encode_response
from bastion.protocols.openai.stream import StreamEncoder

Handler = Callable[[dict[str, Any]], httpx2.Response]


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


def client(seen: list[dict[str, Any]], answer: Handler) -> openai.OpenAI:
    def handle(request: httpx2.Request) -> httpx2.Response:
        body = orjson.loads(request.content)
        seen.append(body)
        return answer(body)

    transport = httpx2.MockTransport(handle)
    return openai.OpenAI(
        api_key="bastion-test-key",
        base_url="http://gateway.test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def json_answer(resp: ChatResponse) -> Handler:
    return lambda body: httpx2.Response(200, json=encode_response(resp, body["model"]))


def sse_answer(events: list[StreamEvent], *, include_usage: bool) -> Handler:
    def answer(body: dict[str, Any]) -> httpx2.Response:
        encoder = StreamEncoder(model=body["model"], include_usage=include_usage)
        stream = b"".join(encoder.encode(e) for e in events)
        return httpx2.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    return answer


TEXT_ANSWER = ChatResponse("msg_1", "up", [TextPart("Hello")], "end_turn", Usage(9, 1))


def test_sdk_request_with_tools_images_and_tool_results_decodes(seen: list[dict[str, Any]]) -> None:
    """A conversation built by the SDK decodes to the expected canonical request."""
    sdk = client(seen, json_answer(TEXT_ANSWER))
    sdk.chat.completions.create(
        model="my-group",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"zoom":2}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        ],
        tools=[
            {
                "type": "function",
                "function": {"name": "look", "description": "Zoom in", "parameters": {"type": "object"}},
            }
        ],
        tool_choice="required",
        parallel_tool_calls=False,
        max_completion_tokens=256,
        temperature=0.3,
        stop=["\n\n"],
        seed=42,
        user="end-user-1",
        reasoning_effort="low",
        presence_penalty=0.1,
    )
    req: ChatRequest = decode_request(seen[0])
    assert req.model == "my-group"
    assert req.system == [TextPart("Be brief.")]
    assert req.messages[0].content == [
        TextPart("What is this?"),
        ImagePart(media_type="image/png", data="iVBO", detail="low"),
    ]
    assert req.messages[1].content == [ToolCallPart("call_1", "look", {"zoom": 2})]
    assert req.messages[2].content == [ToolResultPart("call_1", [TextPart("a cat")], name="look")]
    assert req.tool_choice == ToolChoice("any", parallel=False)
    assert (req.max_tokens, req.temperature, req.stop, req.seed, req.user) == (
        256,
        0.3,
        ["\n\n"],
        42,
        "end-user-1",
    )
    assert req.reasoning_effort == "low"
    assert req.extra == {"presence_penalty": 0.1}


def test_sdk_parses_encoded_response_with_tool_calls_and_reasoning(seen: list[dict[str, Any]]) -> None:
    """The SDK parses an encoded answer: content, tool calls, usage and the reasoning extension."""
    answer = ChatResponse(
        "msg_2",
        "up",
        [ThinkingPart("mull", "sig"), TextPart("Calling."), ToolCallPart("toolu_1", "look", {"zoom": 3})],
        "tool_use",
        Usage(100, 20, cache_read_tokens=64, reasoning_tokens=5),
    )
    sdk = client(seen, json_answer(answer))
    done = sdk.chat.completions.create(model="alias", messages=[{"role": "user", "content": "hi"}])
    assert done.model == "alias"
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Calling."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert orjson.loads(call.function.arguments) == {"zoom": 3}
    extra = choice.message.model_extra or {}
    assert extra["reasoning_content"] == "mull"
    assert extra["thinking_blocks"] == [{"type": "thinking", "thinking": "mull", "signature": "sig"}]
    assert done.usage is not None
    assert done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cached_tokens == 64


STREAM_EVENTS: list[StreamEvent] = [
    MessageStart("msg_3", "up"),
    BlockStart(0, TextPart("")),
    BlockDelta(0, "text", "Hel"),
    BlockDelta(0, "text", "lo"),
    BlockStop(0),
    BlockStart(1, ToolCallPart("toolu_9", "look")),
    BlockDelta(1, "json", '{"zo'),
    BlockDelta(1, "json", 'om":1}'),
    BlockStop(1),
    MessageEnd("tool_use", Usage(30, 7)),
]


def collect(chunks: Iterator[Any]) -> tuple[str, dict[int, list[str]], list[str | None], Any]:
    text: list[str] = []
    args: dict[int, list[str]] = {}
    finishes: list[str | None] = []
    usage = None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            finishes.append(choice.finish_reason)
            if choice.delta.content:
                text.append(choice.delta.content)
            for call in choice.delta.tool_calls or []:
                args.setdefault(call.index, []).append(call.function.arguments if call.function else "")
    return "".join(text), args, finishes, usage


def test_sdk_reads_encoded_stream_with_usage(seen: list[dict[str, Any]]) -> None:
    """The SDK iterates an encoded stream: text, tool-call fragments, finish reason, usage chunk."""
    sdk = client(seen, sse_answer(STREAM_EVENTS, include_usage=True))
    stream = sdk.chat.completions.create(
        model="alias",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, args, finishes, usage = collect(iter(stream))
    assert seen[0]["stream_options"] == {"include_usage": True}
    assert text == "Hello"
    assert {k: "".join(v) for k, v in args.items()} == {0: '{"zoom":1}'}
    assert finishes[-1] == "tool_calls"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (30, 7, 37)


def test_sdk_stream_helper_accumulates_tool_call(seen: list[dict[str, Any]]) -> None:
    """The SDK's own stream accumulator builds the final message from our chunks."""
    sdk = client(seen, sse_answer(STREAM_EVENTS, include_usage=False))
    with sdk.chat.completions.stream(model="alias", messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Hello"
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "toolu_9"
    assert message.tool_calls[0].function.arguments == '{"zoom":1}'


def test_sdk_raises_on_in_band_stream_error(seen: list[dict[str, Any]]) -> None:
    """An error after the 200 makes the SDK raise with our message."""
    events: list[StreamEvent] = [*STREAM_EVENTS[:3], StreamError(529, "overloaded", "Upstream overloaded")]
    sdk = client(seen, sse_answer(events, include_usage=True))
    stream = sdk.chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="Upstream overloaded"):
        list(stream)


@pytest.mark.parametrize(
    ("err", "exc"),
    [
        (AuthenticationError("Unknown key."), openai.AuthenticationError),
        (ModelNotFoundError("nope", ["a", "b"]), openai.NotFoundError),
        (RateLimitError("Slow down.", retry_after=3), openai.RateLimitError),
        (UpstreamError("Overloaded.", status=529), openai.InternalServerError),
    ],
)
def test_sdk_maps_rendered_errors(
    seen: list[dict[str, Any]], err: BastionError, exc: type[openai.APIStatusError]
) -> None:
    """Rendered errors raise the SDK exception for their status, with message and code."""

    def answer(body: dict[str, Any]) -> httpx2.Response:
        status, payload, headers = render_error(err)
        return httpx2.Response(
            status, content=payload, headers={"content-type": "application/json", **headers}
        )

    sdk = client(seen, answer)
    with pytest.raises(exc) as info:
        sdk.chat.completions.create(model="alias", messages=[{"role": "user", "content": "hi"}])
    assert info.value.message.endswith(err.message)
    assert info.value.status_code == (503 if err.status == 529 else err.status)
    assert info.value.code == (
        err.code or {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(err.status)
    )


def test_sdk_decodes_base64_embeddings(seen: list[dict[str, Any]]) -> None:
    """The SDK asks for base64 by default and decodes our packing back to the same floats."""
    vectors = [[0.5, -0.25, 1.0], [2.0, 0.0, -8.5]]

    def answer(body: dict[str, Any]) -> httpx2.Response:
        req = decode_embeddings_request(body)
        return httpx2.Response(
            200, json=encode_embeddings_response(vectors, req.model, 4, req.encoding_format)
        )

    sdk = client(seen, answer)
    result = sdk.embeddings.create(model="emb", input=["a", "b"])
    assert seen[0]["encoding_format"] == "base64"
    assert [item.embedding for item in result.data] == vectors
    assert result.usage.prompt_tokens == 4
