"""The official google-genai SDK reads what the Gemini surface writes, and we read what it sends.

No network: the SDK's HTTP client runs over an in-process mock transport that records the request
and answers with bytes from our encoders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from bastion.domain.errors import RateLimitError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
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
from bastion.protocols.gemini.embeddings import decode_batch_embed_request, encode_batch_embed_response
from bastion.protocols.gemini.errors import render_error
from bastion.protocols.gemini.request import decode_request
from bastion.protocols.gemini.response import encode_response
from bastion.protocols.gemini.stream import StreamEncoder


class _Recorder:
    def __init__(self, answer: Callable[[], httpx2.Response]) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(orjson.loads(request.content))
        self.paths.append(request.url.path)
        return self.answer()


def _client(recorder: _Recorder) -> genai.Client:
    http = httpx2.Client(transport=httpx2.MockTransport(recorder))
    return genai.Client(
        api_key="test-key", http_options=types.HttpOptions(base_url="http://gateway/", httpx_client=http)
    )


def _stream_bytes(events: list[StreamEvent]) -> bytes:
    encoder = StreamEncoder(model="alias")
    return b"".join(encoder.encode(e) for e in events)


_RESPONSE = ChatResponse(
    id="msg_1",
    model="claude",
    content=[
        ThinkingPart(text="thinking", signature="c2lnbmF0dXJl"),
        TextPart(text="Calling the tool."),
        ToolCallPart(id="toolu_1", name="get_weather", arguments={"city": "Oslo"}, signature="dGhvdWdodA=="),
    ],
    stop_reason="tool_use",
    usage=Usage(input_tokens=40, output_tokens=20, cache_read_tokens=10, reasoning_tokens=5),
)

_EVENTS: list[StreamEvent] = [
    MessageStart(id="msg_1", model="claude"),
    BlockStart(index=0, part=ThinkingPart(text="")),
    BlockDelta(index=0, kind="thinking", value="hmm"),
    BlockDelta(index=0, kind="signature", value="c2ln"),
    BlockStop(index=0),
    BlockStart(index=1, part=TextPart(text="")),
    BlockDelta(index=1, kind="text", value="Hello, "),
    BlockDelta(index=1, kind="text", value="world"),
    BlockStop(index=1),
    BlockStart(index=2, part=ToolCallPart(id="toolu_1", name="f", signature="c2ln")),
    BlockDelta(index=2, kind="json", value='{"x": '),
    BlockDelta(index=2, kind="json", value="1}"),
    BlockStop(index=2),
    MessageEnd(stop_reason="tool_use", usage=Usage(input_tokens=12, output_tokens=9, reasoning_tokens=4)),
]


def test_sdk_types_accept_encoded_response() -> None:
    """GenerateContentResponse (extra fields forbidden) validates the encoded body."""
    parsed = types.GenerateContentResponse.model_validate(encode_response(_RESPONSE, "alias"))
    assert parsed.function_calls is not None
    assert parsed.function_calls[0].id == "toolu_1"
    assert parsed.usage_metadata is not None
    assert parsed.usage_metadata.candidates_token_count == 15


def test_sdk_types_accept_every_stream_chunk() -> None:
    """Each data payload the encoder writes validates as a GenerateContentResponse."""
    encoder = StreamEncoder(model="alias")
    chunks = [encoder.encode(e) for e in _EVENTS]
    payloads = [c[len(b"data: ") : -2] for c in chunks if c]
    assert len(payloads) == 6
    for payload in payloads:
        types.GenerateContentResponse.model_validate(orjson.loads(payload))


def test_sdk_reads_non_streamed_answer() -> None:
    """generate_content parses the encoded answer: text, call with id and signature, usage, finish."""
    recorder = _Recorder(
        lambda: httpx2.Response(200, content=orjson.dumps(encode_response(_RESPONSE, "alias")))
    )
    response = _client(recorder).models.generate_content(model="alias", contents="weather?")
    assert response.candidates is not None
    parts = response.candidates[0].content.parts  # type: ignore[union-attr]
    assert parts is not None
    assert parts[0].thought is True
    assert parts[2].thought_signature == b"thought"
    assert response.function_calls is not None
    assert response.function_calls[0].args == {"city": "Oslo"}
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == "alias"


def test_sdk_reads_stream_and_chat_keeps_the_turn() -> None:
    """The SDK's stream reader accepts our bytes, and a chat session records the streamed turn."""
    wire = _stream_bytes(_EVENTS)
    recorder = _Recorder(
        lambda: httpx2.Response(200, content=wire, headers={"content-type": "text/event-stream"})
    )
    client = _client(recorder)
    chunks = list(client.models.generate_content_stream(model="alias", contents="hi"))
    texts = [c.text for c in chunks if c.candidates and c.candidates[0].content and c.text]
    assert "".join(texts) == "Hello, world"
    calls = [fc for c in chunks for fc in (c.function_calls or [])]
    assert [(fc.id, fc.name, fc.args) for fc in calls] == [("toolu_1", "f", {"x": 1})]
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.thoughts_token_count == 4
    assert recorder.paths[0].endswith(":streamGenerateContent")

    chat = client.chats.create(model="alias")
    list(chat.send_message_stream("hi"))
    assert len(chat.get_history(curated=True)) > 1


def test_sdk_raises_on_in_stream_error() -> None:
    """An error chunk after content makes the SDK raise APIError with our code and status."""
    error = StreamError(status=429, kind="rate_limit", message="Budget exhausted")
    wire = _stream_bytes(_EVENTS[:7]) + StreamEncoder(model="m").encode(error)
    recorder = _Recorder(lambda: httpx2.Response(200, content=wire))
    with pytest.raises(genai_errors.APIError) as info:
        list(_client(recorder).models.generate_content_stream(model="alias", contents="hi"))
    assert info.value.code == 429
    assert info.value.status == "RESOURCE_EXHAUSTED"
    assert info.value.message == "Budget exhausted"


def test_sdk_reads_rendered_error() -> None:
    """A rendered error is raised by the SDK as a ClientError with our status and message."""
    status, body, headers = render_error(RateLimitError("Too many requests.", retry_after=3))
    recorder = _Recorder(lambda: httpx2.Response(status, content=body, headers=headers))
    with pytest.raises(genai_errors.ClientError) as info:
        _client(recorder).models.generate_content(model="alias", contents="hi")
    assert info.value.code == 429
    assert info.value.status == "RESOURCE_EXHAUSTED"
    assert info.value.message == "Too many requests."


def test_sdk_request_decodes() -> None:
    """A request built by the SDK (camelCase outside, snake_case inside) decodes fully."""
    recorder = _Recorder(
        lambda: httpx2.Response(200, content=orjson.dumps(encode_response(_RESPONSE, "alias")))
    )
    contents = [
        types.Content(
            role="user",
            parts=[types.Part(text="hello"), types.Part.from_bytes(data=b"abc", mime_type="image/png")],
        ),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(name="f", args={"city": "x"}), thought_signature=b"sig"
                )
            ],
        ),
        types.Content(role="user", parts=[types.Part.from_function_response(name="f", response={"temp": 4})]),
    ]
    config = types.GenerateContentConfig(
        system_instruction="Be brief.",
        max_output_tokens=64,
        temperature=0.3,
        stop_sequences=["END"],
        thinking_config=types.ThinkingConfig(thinking_budget=256, include_thoughts=True),
        tools=[
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(name="f", parameters_json_schema={"type": "object"})
                ]
            )
        ],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["f"]
            )
        ),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    _client(recorder).models.generate_content(model="alias", contents=contents, config=config)
    req = decode_request(recorder.bodies[0], "alias", stream=False)
    assert [p.text for p in req.system] == ["Be brief."]
    assert (req.max_tokens, req.temperature, req.stop, req.thinking_budget) == (64, 0.3, ["END"], 256)
    assert req.tool_choice == ToolChoice(mode="tool", name="f")
    assert req.tools[0].parameters == {"type": "object"}
    call = req.messages[1].content[0]
    assert call == ToolCallPart(id="call_0", name="f", arguments={"city": "x"}, signature="c2ln")
    result = req.messages[2].content[0]
    assert isinstance(result, ToolResultPart)
    assert (result.tool_call_id, result.name) == ("call_0", "f")


def test_sdk_embeddings_round_trip() -> None:
    """The SDK's embed_content request decodes, and our batch answer parses as its response."""
    recorder = _Recorder(
        lambda: httpx2.Response(200, content=orjson.dumps(encode_batch_embed_response([[0.1, 0.2], [0.3]])))
    )
    result = _client(recorder).models.embed_content(model="text-embedding-004", contents=["a", "b"])
    assert decode_batch_embed_request(recorder.bodies[0]) == ["a", "b"]
    assert recorder.paths[0].endswith(":batchEmbedContents")
    assert result.embeddings is not None
    assert [e.values for e in result.embeddings] == [[0.1, 0.2], [0.3]]
