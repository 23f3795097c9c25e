"""The OpenAI SDK's ``client.responses`` on every kind of model group, streamed and not.

Translated groups (an Anthropic-, a Gemini- and an OpenAI-chat-protocol upstream, and the built-in
mock) go through the canonical form; ``gpt-resp`` is an OpenAI deployment that takes the Responses
API itself (``responses_api: true``), so calls to it are passed through to the mock upstream's
``/v1/responses``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, deployment, standard_models

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

TRANSLATED = ["claude", "gemini", "gpt", "mock"]
EVERY = [*TRANSLATED, "gpt-resp"]


@pytest.fixture
def gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    """The standard groups plus ``gpt-resp``, a pass-through Responses API deployment."""
    models = [
        *standard_models(upstream.url),
        deployment("gpt-resp", "openai/gpt-4.1-mini", upstream.url + "/v1", responses_api=True),
    ]
    return start_gateway({"model_list": models, "router_settings": {"num_retries": 0, "timeout": 5}})


def _last_upstream_body(upstream: MockUpstream) -> dict[str, Any]:
    body = upstream.requests[-1].body
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("group", EVERY)
def test_text_answer_streamed_and_not(gateway: RunningGateway, group: str) -> None:
    """A text answer arrives as a response object, and streamed as OpenAI's event sequence."""
    client = openai_client(gateway)
    resp = client.responses.create(model=group, input="hello", instructions="Be brief.", max_output_tokens=3)
    assert resp.object == "response" and resp.id.startswith("resp_")
    assert resp.status == "completed" or (
        resp.status == "incomplete"
        and resp.incomplete_details is not None
        and resp.incomplete_details.reason == "max_output_tokens"
    )
    assert resp.output_text
    assert resp.usage is not None and resp.usage.output_tokens >= 1
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.usage.input_tokens_details.cached_tokens == 0
    assert resp.usage.output_tokens_details.reasoning_tokens == 0
    events = list(client.responses.create(model=group, input="hello", max_output_tokens=3, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:-1] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == resp.output_text
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == text
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text
    assert final.usage is not None and final.usage.output_tokens >= 1


@pytest.mark.parametrize("group", ["claude", "gemini", "gpt"])
def test_instructions_and_developer_turns_become_the_system_prompt(
    gateway: RunningGateway, upstream: MockUpstream, group: str
) -> None:
    """``instructions`` and a developer message reach a translated upstream as its system prompt."""
    openai_client(gateway).responses.create(
        model=group,
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        ],
    )
    sent = json.dumps(_last_upstream_body(upstream))
    assert "Be brief." in sent and "Answer in English." in sent
    body = _last_upstream_body(upstream)
    if group == "claude":
        assert [m["role"] for m in body["messages"]] == ["user"]
    if group == "gpt":
        assert body["messages"][0]["role"] == "system" and body["messages"][-1] == {
            "role": "user",
            "content": "hello",
        }


@pytest.mark.parametrize("group", EVERY)
@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip_keeps_the_call_id(
    gateway: RunningGateway, upstream: MockUpstream, group: str, stream: bool
) -> None:
    """A function call comes back as a function_call item; its output, sent with the call_id,
    reaches the upstream paired with the same call."""
    client = openai_client(gateway)
    first = client.responses.create(model=group, input="use_tool please", tools=[WEATHER], store=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    assert call.call_id
    conversation: list[Any] = [
        {"role": "user", "content": "use_tool please"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
    ]
    if stream:
        events = list(client.responses.create(model=group, input=conversation, tools=[WEATHER], stream=True))
        assert events[-1].type == "response.completed"
    else:
        assert client.responses.create(model=group, input=conversation, tools=[WEATHER]).status == "completed"
    if group == "mock":
        return
    sent = json.dumps(_last_upstream_body(upstream))
    assert "sunny, 21 C" in sent
    if group != "gemini":  # Gemini pairs calls and results by name, not id
        assert sent.count(call.call_id) >= 2


@pytest.mark.parametrize("group", EVERY)
def test_streamed_function_call_events(gateway: RunningGateway, group: str) -> None:
    """A streamed function call: output_item.added, argument deltas that join to the arguments,
    function_call_arguments.done and output_item.done, then response.completed."""
    events = list(
        openai_client(gateway).responses.create(
            model=group, input="use_tool please", tools=[WEATHER], stream=True
        )
    )
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.type == "function_call" and added.item.name == "get_weather"  # type: ignore[union-attr]
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(deltas) == json.loads(done.arguments) == {"city": "Oslo"}
    item_done = next(e for e in events if e.type == "response.output_item.done")
    assert item_done.item.type == "function_call"  # type: ignore[union-attr]
    assert item_done.item.call_id == added.item.call_id  # type: ignore[union-attr]
    assert events[-1].type == "response.completed"
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.type for item in final.output] == ["function_call"]


@pytest.mark.parametrize("group", EVERY)
@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_a_tool_loop(
    gateway: RunningGateway, upstream: MockUpstream, group: str, stream: bool
) -> None:
    """With ``previous_response_id`` only the tool output is sent; the gateway replays the stored
    conversation, call and all, into the upstream."""
    client = openai_client(gateway)
    if stream:
        events = list(
            client.responses.create(model=group, input="use_tool please", tools=[WEATHER], stream=True)
        )
        first = events[-1].response  # type: ignore[union-attr]
    else:
        first = client.responses.create(model=group, input="use_tool please", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    second = client.responses.create(
        model=group,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}],
        tools=[WEATHER],
    )
    if group != "gpt-resp":  # a pass-through answer is the upstream's own, which never saw the id
        assert second.previous_response_id == first.id
    assert second.status == "completed"
    if group != "mock":
        sent = json.dumps(_last_upstream_body(upstream))
        assert "use_tool please" in sent and "sunny, 21 C" in sent
        assert "previous_response_id" not in _last_upstream_body(upstream)
        if group != "gemini":
            assert sent.count(call.call_id) >= 2
    third = client.responses.create(model=group, previous_response_id=second.id, input="and tomorrow?")
    assert third.output_text
    items = client.responses.input_items.list(third.id, order="asc")
    texts = [json.dumps(item.model_dump()) for item in items.data]
    assert "use_tool please" in texts[0] and "and tomorrow?" in texts[-1]
    assert any(item.type == "function_call_output" for item in items.data)


@pytest.mark.parametrize("group", ["gpt", "claude", "gpt-resp"])
def test_json_schema_format(gateway: RunningGateway, upstream: MockUpstream, group: str) -> None:
    """``text.format`` json_schema reaches the upstream in its own protocol's terms and is echoed."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    resp = openai_client(gateway).responses.create(
        model=group,
        input="weather?",
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    )
    assert resp.text is not None and resp.text.format is not None
    assert resp.text.format.type == "json_schema"
    body = _last_upstream_body(upstream)
    if group == "gpt":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == schema
        assert body["response_format"]["json_schema"]["name"] == "weather"
    elif group == "gpt-resp":
        assert body["text"]["format"]["schema"] == schema
    else:
        assert '"city"' in json.dumps(body)


def test_passthrough_is_faithful(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """A pass-through call reaches ``/v1/responses`` with the client's fields, the model replaced and
    the provider key; the answer is the upstream's own (its ids)."""
    resp = openai_client(gateway).responses.create(
        model="gpt-resp",
        input="hello",
        metadata={"ticket": "42"},
        reasoning={"effort": "low"},
        include=["reasoning.encrypted_content"],
        tools=[{"type": "web_search"}],
    )
    recorded = upstream.requests[-1]
    assert recorded.path == "/v1/responses"
    body = _last_upstream_body(upstream)
    assert body["model"] == "gpt-4.1-mini"
    assert body["metadata"] == {"ticket": "42"}
    assert body["reasoning"] == {"effort": "low"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["tools"] == [{"type": "web_search"}]
    assert recorded.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert resp.id.startswith("resp_mock")
    fetched = openai_client(gateway).responses.retrieve(resp.id)
    assert fetched.output_text == resp.output_text


@pytest.mark.parametrize("group", TRANSLATED)
def test_built_in_tools_are_refused_on_translated_groups(gateway: RunningGateway, group: str) -> None:
    """A built-in tool asked of a non-OpenAI upstream is a 400 in OpenAI's format, naming the tool."""
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(gateway).responses.create(model=group, input="hi", tools=[{"type": "web_search"}])
    assert "web_search" in caught.value.message
    assert caught.value.body is not None and caught.value.body.get("param") == "tools[0].type"  # type: ignore[union-attr]


def test_errors_use_openai_format(gateway: RunningGateway) -> None:
    """Bad input, unknown models, unknown and foreign response ids: OpenAI errors with the right status."""
    client = openai_client(gateway)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="claude", input=[])
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="claude", input="hi", previous_response_id="resp_missing")
    assert "resp_missing" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing")
    with pytest.raises(openai.AuthenticationError):
        openai_client(gateway, key="sk-wrong-key-000").responses.create(model="claude", input="hi")


def test_store_false_keeps_nothing(gateway: RunningGateway) -> None:
    """``store: false``: the response cannot be fetched or continued."""
    client = openai_client(gateway)
    resp = client.responses.create(model="claude", input="hello", store=False)
    assert resp.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="claude", input="more", previous_response_id=resp.id)


def test_delete_then_gone(gateway: RunningGateway) -> None:
    """DELETE removes a stored response; reading or continuing it is then a 404."""
    client = openai_client(gateway)
    resp = client.responses.create(model="claude", input="hello")
    assert client.responses.retrieve(resp.id).id == resp.id
    client.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(resp.id)


@pytest.mark.parametrize("group", ["claude", "gpt-resp"])
def test_stream_failure_ends_with_response_failed(
    gateway: RunningGateway, upstream: MockUpstream, group: str
) -> None:
    """An upstream that fails mid-stream: the client gets an ``error`` event and ``response.failed``."""
    upstream.script(Fault(error_after=2))
    events = list(openai_client(gateway).responses.create(model=group, input="hello", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"  # type: ignore[union-attr]
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(set(numbers))
    if group == "claude":  # translated: numbered by the gateway; passed through: the upstream's own
        assert numbers == list(range(len(events)))


def test_master_key_is_never_echoed(gateway: RunningGateway) -> None:
    """Neither key appears in a stored response or the log."""
    client = openai_client(gateway)
    resp = client.responses.create(model="gpt-resp", input="hello")
    raw = client.responses.retrieve(resp.id).model_dump_json()
    assert MASTER_KEY not in raw and UPSTREAM_KEY not in raw
    assert MASTER_KEY not in gateway.log_text() and UPSTREAM_KEY not in gateway.log_text()


@pytest.mark.parametrize("group", ["claude", "gemini", "gpt", "mock"])
def test_custom_tools_round_trip_on_translated_groups(
    gateway: RunningGateway, upstream: MockUpstream, group: str
) -> None:
    """A custom (freeform) tool, as Codex's apply_patch, is offered as a function of one string; its
    call comes back as a custom_tool_call and its output reaches the upstream with the call id."""
    patch_tool = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
    }
    client = openai_client(gateway)
    first = client.responses.create(model=group, input="use_tool please", tools=[patch_tool])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "custom_tool_call" and call.name == "apply_patch"
    assert isinstance(call.input, str) and call.input
    events = list(
        client.responses.create(model=group, input="use_tool please", tools=[patch_tool], stream=True)
    )  # type: ignore[list-item]
    assert "response.custom_tool_call_input.done" in [e.type for e in events]
    second = client.responses.create(
        model=group,
        tools=[patch_tool],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "use_tool please"},
            {"type": "custom_tool_call", "call_id": call.call_id, "name": "apply_patch", "input": call.input},
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Patch applied"},
        ],
    )
    assert second.status == "completed"
    if group == "mock":
        return
    sent = json.dumps(_last_upstream_body(upstream))
    assert "Patch applied" in sent and "start: /.+/" in sent
    if group != "gemini":
        assert sent.count(call.call_id) >= 2


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_maps_to_thinking_and_comes_back_signed(
    gateway: RunningGateway, upstream: MockUpstream, stream: bool
) -> None:
    """``reasoning.effort`` turns on Anthropic thinking; the thinking comes back as a reasoning item
    (summary text, signature as encrypted_content, reasoning summary events when streamed) and
    returns to Anthropic signed, before the tool call, when the conversation continues."""
    client = openai_client(gateway)
    fields: dict[str, Any] = {
        "model": "claude",
        "input": "use_tool please",
        "tools": [WEATHER],
        "reasoning": {"effort": "low", "summary": "auto"},
    }
    if stream:
        events = list(client.responses.create(**fields, stream=True))
        kinds = [e.type for e in events]
        assert "response.reasoning_summary_part.added" in kinds
        summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
        assert summary == "Let me think."
        first = events[-1].response  # type: ignore[union-attr]
    else:
        first = client.responses.create(**fields)
    thinking = upstream.requests[-1].body["thinking"]
    assert thinking["type"] == "enabled" and thinking["budget_tokens"] >= 1024
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == "sig-mock"
    assert reasoning.summary[0].text == "Let me think."
    assert call.type == "function_call"
    client.responses.create(
        model="claude",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
        reasoning={"effort": "low"},
    )
    assistant = _last_upstream_body(upstream)["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "Let me think.",
        "signature": "sig-mock",
    }
    assert assistant["content"][1]["type"] == "tool_use" and assistant["content"][1]["id"] == call.call_id


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_call_signatures_come_back_with_the_call(
    gateway: RunningGateway, upstream: MockUpstream, stream: bool
) -> None:
    """A Gemini function call's thoughtSignature (which Gemini 3 requires back) rides in a
    reasoning item before the call, and returns on the functionCall part, by
    previous_response_id and by sending the items back as Codex does."""
    client = openai_client(gateway)
    fields: dict[str, Any] = {
        "model": "gemini",
        "input": "use_tool please",
        "tools": [WEATHER],
        "reasoning": {"effort": "low"},
    }
    first = (
        list(client.responses.create(**fields, stream=True))[-1].response  # type: ignore[union-attr]
        if stream
        else client.responses.create(**fields)
    )
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    call = first.output[1]
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    client.responses.create(model="gemini", previous_response_id=first.id, input=[output], tools=[WEATHER])
    by_id = _last_upstream_body(upstream)
    replayed = [item.model_dump(exclude_none=True) for item in first.output]
    client.responses.create(
        model="gemini",
        input=[{"role": "user", "content": "use_tool please"}, *replayed, output],
        tools=[WEATHER],
    )
    for body in (by_id, _last_upstream_body(upstream)):
        parts = [part for turn in body["contents"] for part in turn["parts"] if "functionCall" in part]
        assert parts and parts[0]["thoughtSignature"] == "sig-mock"
