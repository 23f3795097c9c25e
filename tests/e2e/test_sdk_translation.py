"""Each SDK reaches upstreams of the other protocols through the canonical form, streaming and not."""

from __future__ import annotations

import json

import anthropic
import pytest
from google.genai import types as genai_types
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY

WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize("group", ["claude", "gemini", "mock"])
def test_openai_sdk_to_other_protocols(gateway: RunningGateway, upstream: MockUpstream, group: str) -> None:
    """The OpenAI SDK gets an OpenAI-shaped answer from Anthropic, Gemini and mock upstreams."""
    client = openai_client(gateway)
    resp = client.chat.completions.create(
        model=group,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        max_tokens=3,
    )
    assert resp.model == group
    assert resp.choices[0].message.content
    assert resp.usage is not None and resp.usage.completion_tokens == 3
    stream = client.chat.completions.create(
        model=group,
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == resp.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_openai_system_prompt_reaches_anthropic_as_system(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """System messages are hoisted into Anthropic's top-level ``system`` and max_tokens is carried over."""
    openai_client(gateway).chat.completions.create(
        model="claude",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        max_tokens=7,
    )
    body = upstream.requests[-1].body
    assert isinstance(body, dict)
    assert body["max_tokens"] == 7
    system = body["system"]
    text = system if isinstance(system, str) else " ".join(block["text"] for block in system)
    assert text == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user"]


@pytest.mark.parametrize("group", ["gpt", "gemini", "mock"])
def test_anthropic_sdk_to_other_protocols(gateway: RunningGateway, group: str) -> None:
    """The Anthropic SDK streams well-formed events from OpenAI, Gemini and mock upstreams."""
    client = anthropic_client(gateway)
    message = client.messages.create(model=group, max_tokens=3, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].type == "text" and message.content[0].text
    with client.messages.stream(
        model=group, max_tokens=3, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == message.content[0].text
    assert final.usage.output_tokens == 3


@pytest.mark.parametrize("group", ["gpt", "claude"])
def test_genai_sdk_to_other_protocols(gateway: RunningGateway, group: str) -> None:
    """google-genai gets Gemini-shaped answers and streams from OpenAI and Anthropic upstreams."""
    client = genai_client(gateway)
    config = genai_types.GenerateContentConfig(max_output_tokens=3, system_instruction="Be brief.")
    resp = client.models.generate_content(model=group, contents="hi", config=config)
    assert resp.text == "alpha bravo charlie"
    assert resp.usage_metadata is not None and resp.usage_metadata.candidates_token_count == 3
    streamed = "".join(
        c.text or "" for c in client.models.generate_content_stream(model=group, contents="hi", config=config)
    )
    assert streamed == "alpha bravo charlie"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_translate_openai_to_anthropic(
    gateway: RunningGateway, upstream: MockUpstream, stream: bool
) -> None:
    """OpenAI tools become Anthropic tools; the tool_use answer comes back as OpenAI tool_calls."""
    client = openai_client(gateway)
    messages = [{"role": "user", "content": "use_tool please"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="claude", messages=messages, tools=[WEATHER_TOOL_OPENAI], max_tokens=50, stream=True
            )
        )
        calls: dict[int, dict[str, str]] = {}
        finish = None
        for chunk in chunks:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for tc in choice.delta.tool_calls or []:
                    entry = calls.setdefault(tc.index, {"name": "", "arguments": "", "id": ""})
                    if tc.id:
                        entry["id"] = tc.id
                    if tc.function and tc.function.name:
                        entry["name"] = tc.function.name
                    if tc.function and tc.function.arguments:
                        entry["arguments"] += tc.function.arguments
        assert finish == "tool_calls"
        assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"city": "Oslo"}
    else:
        resp = client.chat.completions.create(
            model="claude", messages=messages, tools=[WEATHER_TOOL_OPENAI], max_tokens=50
        )
        call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert resp.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}
    body = upstream.requests[-1].body
    assert isinstance(body, dict) and body["tools"][0]["name"] == "get_weather"
    assert body["tools"][0]["input_schema"]["required"] == ["city"]


def test_tool_result_round_trip_anthropic_sdk_to_openai(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """An Anthropic tool_use / tool_result history becomes OpenAI tool_calls and a tool message."""
    client = anthropic_client(gateway)
    first = client.messages.create(
        model="gpt",
        max_tokens=50,
        tools=[WEATHER_TOOL_ANTHROPIC],
        messages=[{"role": "user", "content": "use_tool"}],
    )
    tool_use = next(block for block in first.content if block.type == "tool_use")
    assert first.stop_reason == "tool_use" and tool_use.input == {"city": "Oslo"}
    client.messages.create(
        model="gpt",
        max_tokens=5,
        tools=[WEATHER_TOOL_ANTHROPIC],
        messages=[
            {"role": "user", "content": "use_tool"},
            {
                "role": "assistant",
                "content": [block.model_dump(exclude_none=True) for block in first.content],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "4 C"}],
            },
        ],
    )
    body = upstream.requests[-1].body
    assert isinstance(body, dict)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert body["messages"][1]["tool_calls"][0]["id"] == tool_use.id
    assert body["messages"][2] == {"role": "tool", "tool_call_id": tool_use.id, "content": "4 C"}


def test_anthropic_bearer_token_auth_is_accepted(gateway: RunningGateway) -> None:
    """``ANTHROPIC_AUTH_TOKEN`` (Authorization: Bearer) works as well as x-api-key."""
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=MASTER_KEY, max_retries=0)
    message = client.messages.create(model="mock", max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    assert message.stop_reason == "max_tokens"
