"""The mock upstream speaks each provider's wire protocol (proved with the official SDKs) and its script."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from bastion.testing import Fault, MockUpstream, RecordedRequest

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
CLAUDE_TOOLS: Any = [
    {"name": "get_weather", "input_schema": {"type": "object"}},
    {"name": "get_time", "input_schema": {"type": "object"}},
]
GEMINI_TOOLS = [
    genai_types.Tool(
        function_declarations=[
            genai_types.FunctionDeclaration(name="get_weather"),
            genai_types.FunctionDeclaration(name="get_time"),
        ]
    )
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockUpstream]:
    with MockUpstream() as mock:
        yield mock


@pytest.fixture(autouse=True)
def _fresh(upstream: MockUpstream) -> None:
    upstream.reset()


@pytest.fixture
def oai(upstream: MockUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def claude(upstream: MockUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream.url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def gemini(upstream: MockUpstream) -> genai.Client:
    return genai.Client(
        api_key="g-test", http_options=genai_types.HttpOptions(base_url=upstream.url, api_version="v1beta")
    )


@pytest.fixture
def http(upstream: MockUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=upstream.url, timeout=10) as client:
        yield client


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# --- OpenAI -------------------------------------------------------------------------------------


def test_openai_chat_answers_max_tokens_words_with_usage(oai: openai.OpenAI) -> None:
    """A non-streaming chat answers N words and counts request words as prompt tokens."""
    reply = oai.chat.completions.create(model="m", messages=user("one two three"), max_tokens=3)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "alpha bravo charlie"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (3, 3, 6)


def test_openai_token_limit_defaults_to_12_and_caps_at_4096(oai: openai.OpenAI) -> None:
    """Without a limit the answer is 12 tokens; max_completion_tokens is capped at 4096."""
    default = oai.chat.completions.create(model="m", messages=user("hi"))
    huge = oai.chat.completions.create(model="m", messages=user("hi"), max_completion_tokens=100_000)
    assert default.usage is not None and default.usage.completion_tokens == 12
    assert huge.usage is not None and huge.usage.completion_tokens == 4096
    assert len((huge.choices[0].message.content or "").split()) == 4096


def test_openai_stream_sends_one_chunk_per_token_and_no_usage_unless_asked(oai: openai.OpenAI) -> None:
    """A stream is a role chunk, one chunk per token, a finish chunk; no usage chunk by default."""
    chunks = list(oai.chat.completions.create(model="m", messages=user("hi"), max_tokens=4, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:5]] == ["alpha", " bravo", " charlie", " delta"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None and c.choices for c in chunks)
    assert len({c.id for c in chunks}) == 1


def test_openai_stream_usage_chunk_when_include_usage(oai: openai.OpenAI) -> None:
    """With stream_options.include_usage the last chunk has no choices and carries the usage."""
    stream = oai.chat.completions.create(
        model="m", messages=user("a b"), max_tokens=2, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (2, 2)


def test_openai_tool_call_when_user_says_use_tool(oai: openai.OpenAI) -> None:
    """A request with tools whose last user text says use_tool gets a call to the first tool."""
    reply = oai.chat.completions.create(
        model="m", messages=user("please use_tool now"), tools=[WEATHER_TOOL, TIME_TOOL]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert (call.function.name, orjson.loads(call.function.arguments)) == ("get_weather", {"city": "Oslo"})


def test_openai_streamed_tool_call_arrives_in_argument_fragments(oai: openai.OpenAI) -> None:
    """A streamed tool call names the forced tool once and sends its arguments in pieces."""
    chunks = list(
        oai.chat.completions.create(
            model="m",
            messages=user("hi"),
            tools=[WEATHER_TOOL, TIME_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
            stream=True,
        )
    )
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert calls[0][0].function is not None and calls[0][0].function.name == "get_time"
    assert len(calls) > 2
    arguments = "".join((call[0].function.arguments or "") if call[0].function else "" for call in calls)
    assert orjson.loads(arguments) == {"city": "Oslo"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_tools_without_trigger_or_with_choice_none_answer_text(oai: openai.OpenAI) -> None:
    """Tools alone, or tool_choice none, give a text answer."""
    plain = oai.chat.completions.create(model="m", messages=user("hi"), tools=[WEATHER_TOOL])
    refused = oai.chat.completions.create(
        model="m", messages=user("use_tool"), tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert plain.choices[0].message.tool_calls is None
    assert refused.choices[0].finish_reason == "stop"


def test_azure_deployment_path_answers_like_openai(upstream: MockUpstream) -> None:
    """The Azure deployment path answers chat completions and is recorded with its api-version."""
    client = openai.AzureOpenAI(
        azure_endpoint=upstream.url, api_version="2024-10-21", api_key="az-key", max_retries=0
    )
    reply = client.chat.completions.create(model="my-deployment", messages=user("hi"), max_tokens=2)
    assert reply.choices[0].message.content == "alpha bravo"
    seen = upstream.requests[-1]
    assert seen.path == "/openai/deployments/my-deployment/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}


def test_openai_embeddings_float_and_base64_agree(oai: openai.OpenAI) -> None:
    """Embeddings are deterministic 8-dim vectors; the SDK's default base64 decodes to the float answer."""
    as_floats = oai.embeddings.create(model="e", input=["x", "y"], encoding_format="float")
    as_base64 = oai.embeddings.create(model="e", input=["x", "y"])
    assert [len(d.embedding) for d in as_floats.data] == [8, 8]
    assert as_floats.data[0].embedding != as_floats.data[1].embedding
    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_floats.data]


def test_openai_embeddings_honour_dimensions_and_raw_base64(http: httpx.Client) -> None:
    """``dimensions`` sets the vector size, and base64 is little-endian float32."""
    body = http.post(
        "/v1/embeddings", json={"model": "e", "input": "x", "dimensions": 3, "encoding_format": "base64"}
    ).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert len(struct.unpack("<3f", raw)) == 3
    assert body["usage"] == {"prompt_tokens": 1, "total_tokens": 1}


def test_openai_models_list(oai: openai.OpenAI) -> None:
    """GET /v1/models answers an OpenAI model list."""
    assert [m.id for m in oai.models.list()] == ["mock-model"]


# --- Anthropic ----------------------------------------------------------------------------------


def test_anthropic_message_reports_usage_with_zero_cache_fields(claude: anthropic.Anthropic) -> None:
    """A non-streaming message answers N words, end_turn, and zero cache usage."""
    message = claude.messages.create(model="c", max_tokens=3, messages=user("one two"))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "alpha bravo charlie"
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (2, 3)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (0, 0)


def test_anthropic_stream_emits_named_events_one_delta_per_token(claude: anthropic.Anthropic) -> None:
    """The stream's events arrive (the SDK drops unnamed ones) with one text delta per token."""
    with claude.messages.stream(model="c", max_tokens=3, messages=user("hi")) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-2:] == ["message_delta", "message_stop"]
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(deltas) == 3
    assert final.content[0].type == "text" and final.content[0].text == "alpha bravo charlie"
    assert final.usage.output_tokens == 3


def test_anthropic_requires_max_tokens(http: httpx.Client) -> None:
    """A message without max_tokens is a 400 invalid_request_error in Anthropic's envelope."""
    response = http.post("/v1/messages", json={"model": "c", "messages": user("hi")})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_anthropic_tool_use_forced_and_streamed(claude: anthropic.Anthropic) -> None:
    """A forced tool is called, whole when not streaming and as input_json_delta pieces when streaming."""
    whole = claude.messages.create(
        model="c", max_tokens=50, messages=user("hi"), tools=CLAUDE_TOOLS, tool_choice={"type": "any"}
    )
    with claude.messages.stream(
        model="c",
        max_tokens=50,
        messages=user("hi"),
        tools=CLAUDE_TOOLS,
        tool_choice={"type": "tool", "name": "get_time"},
    ) as stream:
        pieces = [e for e in stream if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
        streamed = stream.get_final_message()
    block = whole.content[0]
    assert whole.stop_reason == "tool_use"
    assert block.type == "tool_use" and (block.name, block.input) == ("get_weather", {"city": "Oslo"})
    assert len(pieces) > 1
    tool = streamed.content[0]
    assert tool.type == "tool_use" and (tool.name, tool.input) == ("get_time", {"city": "Oslo"})
    assert streamed.stop_reason == "tool_use"


def test_openai_answers_in_text_after_the_tool_result(oai: openai.OpenAI) -> None:
    """After a tool result the mock answers in text, though 'use_tool' is still the last user turn."""
    first = oai.chat.completions.create(model="m", messages=user("use_tool"), tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    reply = oai.chat.completions.create(
        model="m",
        tools=[WEATHER_TOOL],
        messages=[
            *user("use_tool"),
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "4 C"},
        ],
    )
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.content
    assert reply.choices[0].message.tool_calls is None


def test_anthropic_tool_use_when_user_says_use_tool(claude: anthropic.Anthropic) -> None:
    """use_tool in the last user text triggers a call to the first tool."""
    message = claude.messages.create(
        model="c", max_tokens=50, messages=user("go use_tool"), tools=CLAUDE_TOOLS
    )
    assert message.content[0].type == "tool_use" and message.content[0].name == "get_weather"


def test_anthropic_thinking_block_comes_first(claude: anthropic.Anthropic) -> None:
    """With thinking enabled a signed thinking block precedes the text, streamed or not."""
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    whole = claude.messages.create(model="c", max_tokens=2000, messages=user("hi"), thinking=thinking)
    with claude.messages.stream(model="c", max_tokens=5, messages=user("hi"), thinking=thinking) as stream:
        streamed = stream.get_final_message()
    for message in (whole, streamed):
        first = message.content[0]
        assert first.type == "thinking"
        assert (first.thinking, first.signature) == ("Let me think.", "sig-mock")
        assert message.content[1].type == "text"


def test_anthropic_count_tokens(claude: anthropic.Anthropic) -> None:
    """count_tokens answers the request's word count."""
    counted = claude.messages.count_tokens(model="c", messages=user("four words right here"))
    assert counted.input_tokens == 4


def test_anthropic_models_list_when_anthropic_version_sent(claude: anthropic.Anthropic) -> None:
    """GET /v1/models with anthropic-version answers Anthropic's page shape."""
    assert [m.id for m in claude.models.list()] == ["claude-mock"]


# --- Gemini -------------------------------------------------------------------------------------


def test_gemini_generate_content_text_and_usage(gemini: genai.Client) -> None:
    """generateContent answers maxOutputTokens words with usageMetadata."""
    reply = gemini.models.generate_content(
        model="gemini-x",
        contents="one two three",
        config=genai_types.GenerateContentConfig(max_output_tokens=2),
    )
    assert reply.text == "alpha bravo"
    assert reply.candidates is not None and reply.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert reply.usage_metadata is not None
    assert (reply.usage_metadata.prompt_token_count, reply.usage_metadata.candidates_token_count) == (3, 2)


def test_gemini_stream_one_chunk_per_token_usage_on_last(gemini: genai.Client) -> None:
    """streamGenerateContent?alt=sse sends one chunk per token; the last has finish and usage."""
    chunks = list(
        gemini.models.generate_content_stream(
            model="gemini-x", contents="hi", config=genai_types.GenerateContentConfig(max_output_tokens=3)
        )
    )
    assert [c.text for c in chunks] == ["alpha", " bravo", " charlie"]
    assert chunks[-1].usage_metadata is not None and chunks[-1].usage_metadata.candidates_token_count == 3
    assert chunks[0].usage_metadata is None


def test_gemini_function_call_on_use_tool_and_forced_mode(gemini: genai.Client) -> None:
    """use_tool calls the first function; mode ANY with allowed names calls the allowed one."""
    triggered = gemini.models.generate_content(
        model="g", contents="use_tool please", config=genai_types.GenerateContentConfig(tools=GEMINI_TOOLS)
    )
    forced_config = genai_types.GenerateContentConfig(
        tools=GEMINI_TOOLS,
        tool_config=genai_types.ToolConfig(
            function_calling_config=genai_types.FunctionCallingConfig(
                mode=genai_types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]
            )
        ),
    )
    forced = list(gemini.models.generate_content_stream(model="g", contents="hi", config=forced_config))
    assert triggered.function_calls is not None
    assert (triggered.function_calls[0].name, triggered.function_calls[0].args) == (
        "get_weather",
        {"city": "Oslo"},
    )
    assert len(forced) == 1 and forced[0].function_calls is not None
    assert forced[0].function_calls[0].name == "get_time"


def test_gemini_count_tokens_and_embeddings(gemini: genai.Client, http: httpx.Client) -> None:
    """countTokens counts words; batchEmbedContents and embedContent give deterministic vectors."""
    counted = gemini.models.count_tokens(model="g", contents="three little words")
    batch = gemini.models.embed_content(
        model="e", contents=["x", "y"], config=genai_types.EmbedContentConfig(output_dimensionality=4)
    )
    single = http.post("/v1beta/models/e:embedContent", json={"content": {"parts": [{"text": "x"}]}}).json()
    assert counted.total_tokens == 3
    assert batch.embeddings is not None and [len(e.values or []) for e in batch.embeddings] == [4, 4]
    assert len(single["embedding"]["values"]) == 8
    assert single["embedding"]["values"][:4] == pytest.approx(batch.embeddings[0].values)


def test_gemini_stream_without_alt_sse_is_a_json_array(http: httpx.Client) -> None:
    """Without alt=sse, streamGenerateContent answers one JSON array of chunks."""
    body = http.post(
        "/v1beta/models/g:streamGenerateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 2}},
    ).json()
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in body] == ["alpha", " bravo"]


# --- routing and recording ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "shape"),
    [
        ("/v1/nothing", {}, "openai"),
        ("/v1beta/nothing", {}, "gemini"),
        ("/v1/nothing", {"anthropic-version": "2023-06-01"}, "anthropic"),
    ],
)
def test_unknown_paths_get_404_in_a_plausible_envelope(
    http: httpx.Client, path: str, headers: dict[str, str], shape: str
) -> None:
    """An unmatched path is a 404 in the envelope of the protocol it looks like."""
    response = http.post(path, json={}, headers=headers)
    body = response.json()
    assert response.status_code == 404
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    elif shape == "gemini":
        assert body["error"]["status"] == "NOT_FOUND" and body["error"]["code"] == 404
    else:
        assert body["error"]["type"] == "invalid_request_error" and "message" in body["error"]


def test_body_that_is_not_json_is_a_400_and_recorded_raw(upstream: MockUpstream, http: httpx.Client) -> None:
    """A body that is not JSON is rejected with 400 and recorded as raw bytes."""
    response = http.post("/v1/chat/completions", content=b"not json")
    assert response.status_code == 400
    assert upstream.requests[-1].body == b"not json"


def test_requests_are_recorded_with_lower_case_headers_and_query(
    upstream: MockUpstream, gemini: genai.Client
) -> None:
    """Each request is recorded: method, path, query dict, lower-case headers, parsed body."""
    list(gemini.models.generate_content_stream(model="gemini-x", contents="hi"))
    seen = upstream.requests
    assert len(seen) == 1
    assert isinstance(seen[0], RecordedRequest)
    assert (seen[0].method, seen[0].path) == ("POST", "/v1beta/models/gemini-x:streamGenerateContent")
    assert seen[0].query == {"alt": "sse"}
    assert seen[0].headers["x-goog-api-key"] == "g-test"
    assert seen[0].body["contents"][0]["parts"] == [{"text": "hi"}]


# --- faults -------------------------------------------------------------------------------------


def test_status_fault_uses_each_protocols_error_envelope(
    upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic, gemini: genai.Client
) -> None:
    """A status fault answers that status with the message in OpenAI, Anthropic and Gemini shape."""
    upstream.script(Fault(status=429, message="slow down"), Fault(status=529), Fault(status=503))
    with pytest.raises(openai.RateLimitError, match="slow down") as oai_error:
        oai.chat.completions.create(model="m", messages=user("hi"))
    with pytest.raises(anthropic.InternalServerError) as claude_error:
        claude.messages.create(model="c", max_tokens=5, messages=user("hi"))
    with pytest.raises(genai_errors.ServerError) as gemini_error:
        gemini.models.generate_content(model="g", contents="hi")
    assert oai_error.value.code == "rate_limit_exceeded"
    assert claude_error.value.status_code == 529
    assert claude_error.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "mock failure"},
        "request_id": claude_error.value.request_id,
    }
    assert gemini_error.value.status == "UNAVAILABLE"


def test_retry_after_fault_sets_header(http: httpx.Client, upstream: MockUpstream) -> None:
    """retry_after puts seconds in the retry-after header (and RetryInfo for Gemini)."""
    upstream.script(Fault(status=429, retry_after=2), Fault(status=429, retry_after=0.5))
    first = http.post("/v1/chat/completions", json={"model": "m", "messages": user("hi")})
    second = http.post("/v1beta/models/g:generateContent", json={"contents": []})
    assert first.headers["retry-after"] == "2"
    assert second.headers["retry-after"] == "0.5"
    assert second.json()["error"]["details"][0]["retryDelay"] == "0.5s"


def test_delay_fault_holds_back_the_headers(upstream: MockUpstream, http: httpx.Client) -> None:
    """A long delay makes a client with a shorter timeout give up; a short one still answers."""
    upstream.script(Fault(delay=30), Fault(delay=0.01))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v1/chat/completions", json={"model": "m", "messages": user("hi")}, timeout=0.2)
    later = http.post("/v1/chat/completions", json={"model": "m", "messages": user("hi")})
    assert later.status_code == 200


def test_first_token_delay_sends_headers_but_no_body(upstream: MockUpstream, http: httpx.Client) -> None:
    """first_token_delay: the stream's headers arrive, its first byte does not (yet)."""
    upstream.script(Fault(first_token_delay=30))
    body = {"model": "m", "messages": user("hi"), "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body, timeout=0.5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with pytest.raises(httpx.ReadTimeout):
            next(response.iter_bytes())


def test_drop_after_closes_the_connection_mid_stream(upstream: MockUpstream, oai: openai.OpenAI) -> None:
    """drop_after=N delivers N tokens and then the connection breaks."""
    upstream.script(Fault(drop_after=3))
    received: list[str | None] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        stream = oai.chat.completions.create(model="m", messages=user("hi"), stream=True)
        received.extend(chunk.choices[0].delta.content for chunk in stream)
    assert received == ["", "alpha", " bravo", " charlie"]


def test_drop_after_on_a_plain_request_drops_before_answering(
    upstream: MockUpstream, oai: openai.OpenAI
) -> None:
    """A drop_after fault on a non-streaming request closes the connection without an answer."""
    upstream.script(Fault(drop_after=0))
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=user("hi"))


def test_error_after_sends_in_band_error_events(
    upstream: MockUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic, gemini: genai.Client
) -> None:
    """error_after=N sends N tokens then each protocol's in-band error, which each SDK raises."""
    upstream.script(*[Fault(error_after=2, message="overloaded now")] * 3)
    texts: list[str | None] = []
    with pytest.raises(openai.APIError, match="overloaded now"):
        stream = oai.chat.completions.create(model="m", messages=user("hi"), stream=True)
        texts.extend(chunk.choices[0].delta.content for chunk in stream)
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded now"),
        claude.messages.stream(model="c", max_tokens=9, messages=user("hi")) as stream,
    ):
        list(stream)
    with pytest.raises(genai_errors.APIError, match="overloaded now"):
        list(gemini.models.generate_content_stream(model="g", contents="hi"))
    assert texts == ["", "alpha", " bravo"]


def test_hang_fault_never_answers_then_the_next_request_does(
    upstream: MockUpstream, http: httpx.Client
) -> None:
    """hang gives no answer until the client gives up; the fault is consumed."""
    upstream.script(Fault(hang=True))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v1/messages", json={"model": "c", "max_tokens": 1, "messages": []}, timeout=0.2)
    assert http.post("/v1/messages", json={"model": "c", "max_tokens": 1, "messages": []}).status_code == 200


def test_script_is_fifo_one_fault_per_request(upstream: MockUpstream, http: httpx.Client) -> None:
    """Scripted faults are consumed in order, one per request, then answers are normal."""
    upstream.script(Fault(status=500), Fault(status=429))
    body = {"model": "m", "messages": user("hi")}
    codes = [http.post("/v1/chat/completions", json=body).status_code for _ in range(3)]
    assert codes == [500, 429, 200]


def test_script_for_applies_only_to_that_model(upstream: MockUpstream, http: httpx.Client) -> None:
    """script_for faults hit only requests whose upstream model matches (body or Gemini path)."""
    upstream.script_for("bad-model", Fault(status=503))
    upstream.script_for("gem-bad", Fault(status=500))
    other = http.post("/v1/chat/completions", json={"model": "good", "messages": user("hi")})
    bad = http.post("/v1/chat/completions", json={"model": "bad-model", "messages": user("hi")})
    gem = http.post("/v1beta/models/gem-bad:generateContent", json={"contents": []})
    assert (other.status_code, bad.status_code, gem.status_code) == (200, 503, 500)


def test_reset_forgets_requests_and_faults(upstream: MockUpstream, http: httpx.Client) -> None:
    """reset empties the record and the fault queues."""
    upstream.script(Fault(status=500))
    upstream.script_for("m", Fault(status=500))
    http.get("/v1/models")
    upstream.reset()
    assert upstream.requests == []
    assert http.post("/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 200


def test_token_delay_streams_still_complete() -> None:
    """A mock with a token delay still sends every token of a stream."""
    with MockUpstream(token_delay=0.001) as slow:
        client = openai.OpenAI(base_url=slow.url + "/v1", api_key="k", max_retries=0)
        stream = client.chat.completions.create(model="m", messages=user("hi"), max_tokens=5, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "alpha bravo charlie delta echo"


# --- control API and CLI ------------------------------------------------------------------------


def test_control_api_scripts_lists_and_resets(upstream: MockUpstream, http: httpx.Client) -> None:
    """/_mock/script queues faults (list or per model), /_mock/requests lists, /_mock/reset clears."""
    assert http.post("/_mock/script", json=[{"status": 418, "message": "teapot"}]).json() == {"queued": 1}
    http.post("/_mock/script", json={"model": "x", "faults": [{"status": 502}]})
    first = http.post("/v1/chat/completions", json={"model": "m", "messages": user("hi")})
    second = http.post("/v1/chat/completions", json={"model": "x", "messages": user("hi")})
    listed = http.get("/_mock/requests").json()
    assert (first.status_code, first.json()["error"]["message"], second.status_code) == (418, "teapot", 502)
    assert [r["body"]["model"] for r in listed] == ["m", "x"]
    assert http.post("/_mock/reset").json() == {"ok": True}
    assert upstream.requests == []


def test_control_api_rejects_unknown_fault_fields(http: httpx.Client) -> None:
    """A fault with an unknown field is refused with 400 and nothing is queued."""
    response = http.post("/_mock/script", json=[{"statos": 500}])
    assert response.status_code == 400
    assert http.post("/v1/chat/completions", json={"model": "m", "messages": []}).status_code == 200


def test_cli_prints_listening_line_and_serves() -> None:
    """``python -m bastion.testing.upstream`` prints its URL once listening and then answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bastion.testing.upstream", "--port", "0", "--no-record"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        reply = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": [], "max_tokens": 1})
        assert reply.json()["choices"][0]["message"]["content"] == "alpha"
        assert httpx.get(url + "/_mock/requests").json() == []
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
