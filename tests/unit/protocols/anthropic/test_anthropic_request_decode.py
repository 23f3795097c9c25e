"""decode_request: a client's /v1/messages body -> ChatRequest."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.anthropic.request import decode_request
from bastion.protocols.canonical import (
    DocumentPart,
    ImagePart,
    Message,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    body.update(fields)
    return body


def test_minimal_body() -> None:
    """A minimal body gives model, max_tokens and one user text message."""
    req = decode_request(_body())
    assert req.model == "claude-sonnet-4-5"
    assert req.max_tokens == 1024
    assert req.messages == [Message("user", [TextPart("Hi")])]
    assert req.stream is False
    assert req.extra == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": None}, "model: Field required"),
        ({"model": ""}, "model: Input should be a non-empty string"),
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({"max_tokens": True}, "max_tokens: Input should be a valid integer"),
        ({"messages": None}, "messages: Field required"),
        ({"messages": "hi"}, "messages: Input should be a valid list"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "x"}]},
            "messages.1.role: Input should be 'user' or 'assistant'",
        ),
        ({"messages": [{"content": "x"}]}, "messages.0.role: Field required"),
        ({"messages": ["hi"]}, "messages.0: Input should be a valid dictionary"),
        (
            {"messages": [{"role": "user", "content": 3}]},
            "messages.0.content: Input should be a valid string or a list of content blocks",
        ),
        ({"temperature": "hot"}, "temperature: Input should be a valid number"),
        ({"top_k": 1.5}, "top_k: Input should be a valid integer"),
        ({"stop_sequences": "END"}, "stop_sequences: Input should be a valid list"),
        ({"stop_sequences": ["a", 1]}, "stop_sequences.1: Input should be a valid string"),
        ({"system": 5}, "system: Input should be a valid string or a list of text blocks"),
        ({"system": [{"type": "image"}]}, "system.0: Input should be a text block with a string 'text'"),
        ({"metadata": "u"}, "metadata: Input should be a valid dictionary"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id: Input should be a valid string"),
        ({"tools": {}}, "tools: Input should be a valid list"),
        ({"tools": [{"name": "f"}]}, "tools.0.input_schema: Field required"),
        ({"tools": [{"input_schema": {}}]}, "tools.0.name: Field required"),
        ({"tool_choice": "auto"}, "tool_choice: Input should be an object such as {'type': 'auto'}"),
        (
            {"tool_choice": {"type": "required"}},
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
        ),
        (
            {"tool_choice": {"type": "tool"}},
            "tool_choice.name: Field required when tool_choice.type is 'tool'",
        ),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens: Field required"),
        ({"thinking": "on"}, "thinking: Input should be an object such as {'type': 'enabled', ...}"),
        ({"output_config": []}, "output_config: Input should be a valid dictionary"),
        ({"output_config": {"effort": 3}}, "output_config.effort: Input should be a valid string"),
        ({"output_config": {"format": {"type": "json"}}}, "output_config.format: Input should be {'type'"),
    ],
)
def test_invalid_fields_are_worded_as_anthropic(change: dict[str, Any], message: str) -> None:
    """An invalid field is refused as Anthropic does: '<dotted path>: <pydantic phrase>', param the path."""
    body = _body(**change)
    if change.get("model") is None and "model" in change:
        del body["model"]
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body)
    assert info.value.message.startswith(message)
    assert info.value.param == message.split(":", 1)[0]
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("block", "param"),
    [
        ({"type": "text"}, "messages.0.content.0.text"),
        ({"type": "text", "text": 1}, "messages.0.content.0.text"),
        ({"type": "tool_use", "id": "t", "name": "f", "input": []}, "messages.0.content.0.input"),
        ({"type": "image", "source": "x"}, "messages.0.content.0.source"),
        ({"type": "image", "source": {"type": "file", "file_id": "f"}}, "messages.0.content.0.source.type"),
        ({"type": "document", "source": {"type": "content"}}, "messages.0.content.0.source.type"),
        ({"type": "server_tool_use", "id": "s"}, "messages.0.content.0.type"),
        ("text", "messages.0.content.0"),
        (
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "thinking", "thinking": "x"}]},
            "messages.0.content.0.content.0.type",
        ),
    ],
)
def test_invalid_blocks_are_named(block: Any, param: str) -> None:
    """A bad or untranslatable content block is refused with its dotted path, first in the message."""
    with pytest.raises(InvalidRequestError) as info:
        decode_request(_body(messages=[{"role": "user", "content": [block]}]))
    assert info.value.param == param
    assert info.value.message.startswith(f"{param}: ")


def test_system_turns_fold_into_the_system_prompt_in_order() -> None:
    """system-role turns in messages (Claude Code's environment block) join the system prompt, in order."""
    req = decode_request(
        _body(
            system=[{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "system", "content": "<env>cwd: /tmp</env>"},
                {"role": "assistant", "content": "Hello"},
                {
                    "role": "system",
                    "content": [{"type": "text", "text": "Second"}, {"type": "text", "text": ""}],
                },
                {"role": "user", "content": "Go"},
            ],
        )
    )
    assert req.system == [
        TextPart("You are Claude Code.", {"type": "ephemeral"}),
        TextPart("<env>cwd: /tmp</env>"),
        TextPart("Second"),
    ]
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    assert req.messages[0].content == [TextPart("Hi")]


def test_context_management_is_left_out() -> None:
    """Claude Code's context_management (server-side context editing) is not carried to other
    providers, which would refuse it as an unknown parameter; other unknown fields still are."""
    edits = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    req = decode_request(_body(context_management=edits, container="c1"))
    assert req.extra == {"container": "c1"}


def test_system_turn_without_top_level_system() -> None:
    """A system turn alone becomes the whole system prompt."""
    req = decode_request(
        _body(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    )
    assert req.system == [TextPart("S")]
    assert req.messages == [Message("user", [TextPart("U")])]


def test_system_turn_with_an_image_is_refused_by_path() -> None:
    """A system turn may hold only text; anything else is named the Anthropic way."""
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    with pytest.raises(InvalidRequestError) as info:
        decode_request(
            _body(messages=[{"role": "user", "content": "U"}, {"role": "system", "content": [image]}])
        )
    assert info.value.message == "messages.1.content.0.type: A system turn may hold only text blocks"


def test_system_string_and_blocks() -> None:
    """system is a string or text blocks; cache_control is kept."""
    assert decode_request(_body(system="Be brief.")).system == [TextPart("Be brief.")]
    assert decode_request(_body(system="")).system == []
    blocks = [
        {"type": "text", "text": "A"},
        {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
    ]
    assert decode_request(_body(system=blocks)).system == [
        TextPart("A"),
        TextPart("B", {"type": "ephemeral"}),
    ]


def test_all_content_block_kinds() -> None:
    """Every supported block type maps to its canonical part."""
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {
                    "type": "document",
                    "title": "spec.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                },
                {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "héllo"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "enc"},
                {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"q": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_9",
                    "is_error": True,
                    "content": [{"type": "text", "text": "boom"}],
                },
                {"type": "tool_result", "tool_use_id": "toolu_1"},
            ],
        },
    ]
    req = decode_request(_body(messages=messages))
    assert req.messages[0].content == [
        TextPart("look", {"type": "ephemeral"}),
        ImagePart(media_type="image/png", data="iVBO"),
        ImagePart(url="https://x/cat.png"),
        DocumentPart(media_type="application/pdf", data=pdf, filename="spec.pdf"),
        DocumentPart(url="https://x/a.pdf"),
        DocumentPart(media_type="text/plain", data=base64.b64encode("héllo".encode()).decode()),
    ]
    assert req.messages[1].content == [
        ThinkingPart("hmm", "sig"),
        RedactedThinkingPart("enc"),
        ToolCallPart("toolu_1", "get", {"q": 1}),
    ]
    assert req.messages[2].content == [
        ToolResultPart("toolu_1", [TextPart("42")], name="get"),
        ToolResultPart("toolu_9", [TextPart("boom")], is_error=True, name=None),
        ToolResultPart("toolu_1", [], name="get"),
    ]


def test_consecutive_same_role_turns_are_kept() -> None:
    """Two user turns in a row stay two messages (the API merges them)."""
    msgs = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert len(decode_request(_body(messages=msgs)).messages) == 2


def test_sampling_stop_user_stream() -> None:
    """temperature, top_p, top_k, stop_sequences, metadata.user_id and stream map across."""
    req = decode_request(
        _body(
            temperature=1,
            top_p=0.9,
            top_k=40,
            stop_sequences=["END"],
            metadata={"user_id": "u-1"},
            stream=True,
        )
    )
    assert (req.temperature, req.top_p, req.top_k) == (1.0, 0.9, 40)
    assert req.stop == ["END"]
    assert req.user == "u-1"
    assert req.stream is True


def test_client_and_server_tools() -> None:
    """Client tools become Tool; server tools are kept whole in extra['server_tools']."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    web = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    tools = [
        {"name": "weather", "description": "Weather", "input_schema": schema, "cache_control": {"type": "x"}},
        {"type": "custom", "name": "plain", "input_schema": {"type": "object"}},
        web,
    ]
    req = decode_request(_body(tools=tools))
    assert req.tools == [Tool("weather", "Weather", schema), Tool("plain", None, {"type": "object"})]
    assert req.extra == {"server_tools": [web]}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice("auto")),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoice("any", parallel=False)),
        ({"type": "auto", "disable_parallel_tool_use": False}, ToolChoice("auto", parallel=True)),
        ({"type": "none"}, ToolChoice("none")),
        ({"type": "tool", "name": "f"}, ToolChoice("tool", name="f")),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice) -> None:
    """tool_choice types and disable_parallel_tool_use map to ToolChoice."""
    assert decode_request(_body(tool_choice=choice)).tool_choice == expected


def test_thinking_enabled() -> None:
    """thinking enabled gives thinking_budget."""
    req = decode_request(_body(thinking={"type": "enabled", "budget_tokens": 2000}))
    assert req.thinking_budget == 2000
    assert req.reasoning_effort is None


def test_thinking_adaptive_uses_effort_or_medium() -> None:
    """adaptive thinking gives reasoning_effort from output_config.effort, else medium."""
    adaptive = {"type": "adaptive", "display": "summarized"}
    assert decode_request(_body(thinking=adaptive)).reasoning_effort == "medium"
    req = decode_request(_body(thinking=adaptive, output_config={"effort": "high"}))
    assert req.reasoning_effort == "high"
    assert "output_config" not in req.extra


def test_thinking_disabled_and_unknown() -> None:
    """disabled sets thinking_disabled; an unknown type is kept in extra."""
    assert decode_request(_body(thinking={"type": "disabled"})).thinking_disabled is True
    odd = {"type": "between_tools"}
    assert decode_request(_body(thinking=odd)).extra == {"thinking": odd}


def test_output_format_and_leftovers() -> None:
    """output_config.format becomes response_format; other keys stay in extra."""
    schema = {"type": "object", "properties": {}}
    req = decode_request(
        _body(output_config={"format": {"type": "json_schema", "schema": schema}, "task_budget": 5})
    )
    assert req.response_format == {"type": "json_schema", "name": "output", "schema": schema}
    assert req.extra == {"output_config": {"task_budget": 5}}


def test_unknown_fields_go_to_extra() -> None:
    """Fields with no canonical meaning are kept in extra."""
    req = decode_request(_body(service_tier="auto", container="c1", future_field={"a": 1}))
    assert req.extra == {"service_tier": "auto", "container": "c1", "future_field": {"a": 1}}
