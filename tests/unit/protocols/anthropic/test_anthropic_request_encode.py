"""encode_request: ChatRequest -> the body for an Anthropic upstream."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.anthropic.request import encode_request
from bastion.protocols.canonical import (
    ChatRequest,
    ContentPart,
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


def _req(**fields: Any) -> ChatRequest:
    base: dict[str, Any] = {"model": "alias", "messages": [Message("user", [TextPart("Hi")])]}
    base.update(fields)
    return ChatRequest(**base)


def _encode(req: ChatRequest, *, drop_params: bool = False, **kw: Any) -> dict[str, Any]:
    return encode_request(req, "claude-up", drop_params=drop_params, **kw)


def test_minimal_body_uses_upstream_model_and_default_max_tokens() -> None:
    """The upstream model and the default max_tokens are written; nothing optional is."""
    assert _encode(_req()) == {
        "model": "claude-up",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }
    assert _encode(_req(), default_max_tokens=100)["max_tokens"] == 100
    assert _encode(_req(max_tokens=7))["max_tokens"] == 7


def test_temperature_is_clamped_and_sampling_mapped() -> None:
    """temperature above 1 is clamped; top_p, top_k, stop, user and stream map across."""
    body = _encode(_req(temperature=1.7, top_p=0.5, top_k=3, stop=["X"], user="u", stream=True))
    assert body["temperature"] == 1.0
    assert (body["top_p"], body["top_k"], body["stop_sequences"]) == (0.5, 3, ["X"])
    assert body["metadata"] == {"user_id": "u"}
    assert body["stream"] is True
    assert _encode(_req(temperature=0.3))["temperature"] == 0.3


def test_system_blocks_keep_cache_control_and_skip_empty() -> None:
    """System parts become text blocks (cache_control kept); empty ones are left out."""
    body = _encode(_req(system=[TextPart("A"), TextPart(""), TextPart("B", {"type": "ephemeral"})]))
    assert body["system"] == [
        {"type": "text", "text": "A"},
        {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
    ]
    assert "system" not in _encode(_req(system=[TextPart("")]))


def test_tools_and_tool_choice() -> None:
    """Tools get an object input_schema; tool_choice and parallel map across."""
    tools = [Tool("f", "does f", {"type": "object", "properties": {}}), Tool("g", None, {})]
    body = _encode(_req(tools=tools, tool_choice=ToolChoice("tool", name="f", parallel=False)))
    assert body["tools"] == [
        {"name": "f", "description": "does f", "input_schema": {"type": "object", "properties": {}}},
        {"name": "g", "input_schema": {"type": "object"}},
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}
    assert _encode(_req(tools=tools, tool_choice=ToolChoice("none", parallel=False)))["tool_choice"] == {
        "type": "none"
    }
    assert _encode(_req(tools=tools, tool_choice=ToolChoice("any", parallel=True)))["tool_choice"] == {
        "type": "any",
        "disable_parallel_tool_use": False,
    }


def test_tool_choice_without_tools_is_left_out() -> None:
    """tool_choice is omitted when there are no tools at all."""
    assert "tool_choice" not in _encode(_req(tool_choice=ToolChoice("none")))
    assert "tool_choice" not in _encode(_req(tool_choice=ToolChoice("auto")))


def test_tool_choice_tool_without_name_is_invalid() -> None:
    """A forced tool choice that names no tool is refused."""
    with pytest.raises(InvalidRequestError):
        _encode(_req(tools=[Tool("f")], tool_choice=ToolChoice("tool")))


def test_server_tools_come_back() -> None:
    """Server tools kept in extra are appended to tools."""
    web = {"type": "web_search_20250305", "name": "web_search"}
    body = _encode(_req(tools=[Tool("f")], extra={"server_tools": [web]}))
    assert body["tools"][-1] == web
    assert _encode(_req(extra={"server_tools": [web]}))["tools"] == [web]


def test_tool_results_lead_their_user_turn() -> None:
    """In a user turn, tool results are moved before other blocks, keeping their order."""
    msg = Message(
        "user",
        [TextPart("then"), ToolResultPart("a", [TextPart("1")]), ToolResultPart("b", [], is_error=True)],
    )
    content = _encode(_req(messages=[msg]))["messages"][0]["content"]
    assert content == [
        {"type": "tool_result", "tool_use_id": "a", "content": "1"},
        {"type": "tool_result", "tool_use_id": "b", "is_error": True},
        {"type": "text", "text": "then"},
    ]


def test_tool_result_with_blocks() -> None:
    """A tool result with several parts keeps them as blocks."""
    part = ToolResultPart("a", [TextPart("x"), ImagePart(media_type="image/png", data="iVBO")])
    block = _encode(_req(messages=[Message("user", [part])]))["messages"][0]["content"][0]
    assert block["content"] == [
        {"type": "text", "text": "x"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
    ]


def test_assistant_parts_and_unsigned_thinking() -> None:
    """Signed thinking, redacted thinking and tool calls are kept; unsigned thinking is left out."""
    msg = Message(
        "assistant",
        [
            ThinkingPart("plan", "sig"),
            ThinkingPart("gemini thought"),
            RedactedThinkingPart("enc"),
            TextPart(""),
            ToolCallPart("toolu_1", "f", {"a": 1}, signature="gem"),
        ],
    )
    content = _encode(_req(messages=[Message("user", [TextPart("q")]), msg]))["messages"][1]["content"]
    assert content == [
        {"type": "thinking", "thinking": "plan", "signature": "sig"},
        {"type": "redacted_thinking", "data": "enc"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
    ]


def test_turn_with_only_unsigned_thinking_is_skipped() -> None:
    """A turn left empty by dropping unsigned thinking is skipped, unless it is the final assistant turn."""
    msgs = [
        Message("user", [TextPart("q")]),
        Message("assistant", [ThinkingPart("t")]),
        Message("user", [TextPart("again")]),
        Message("assistant", [ThinkingPart("t")]),
    ]
    out = _encode(_req(messages=msgs))["messages"]
    assert [m["role"] for m in out] == ["user", "user", "assistant"]
    assert out[-1]["content"] == []


@pytest.mark.parametrize(
    ("part", "source"),
    [
        (ImagePart(data="/9j/abc"), {"type": "base64", "media_type": "image/jpeg", "data": "/9j/abc"}),
        (ImagePart(data="R0lGODx"), {"type": "base64", "media_type": "image/gif", "data": "R0lGODx"}),
        (ImagePart(data="zzz"), {"type": "base64", "media_type": "image/png", "data": "zzz"}),
        (
            ImagePart(url="data:image/webp;base64,UklGRx"),
            {"type": "base64", "media_type": "image/webp", "data": "UklGRx"},
        ),
        (ImagePart(url="https://x/a.png", detail="low"), {"type": "url", "url": "https://x/a.png"}),
    ],
)
def test_image_sources(part: ImagePart, source: dict[str, Any]) -> None:
    """Images become base64 (media type sniffed when missing, data URLs split) or url sources."""
    block = _encode(_req(messages=[Message("user", [part])]))["messages"][0]["content"][0]
    assert block == {"type": "image", "source": source}


def test_image_without_source_is_invalid() -> None:
    """An image with neither data nor url is refused."""
    with pytest.raises(InvalidRequestError):
        _encode(_req(messages=[Message("user", [ImagePart()])]))


def test_document_sources() -> None:
    """PDFs go as base64 or url (filename as title); plain text as a text source."""
    text = base64.b64encode("héllo".encode()).decode()
    parts: list[ContentPart] = [
        DocumentPart(media_type="application/pdf", data="JVBE", filename="a.pdf"),
        DocumentPart(data="JVBE"),
        DocumentPart(url="https://x/a.pdf"),
        DocumentPart(url="data:application/pdf;base64,JVBE"),
        DocumentPart(media_type="text/plain", data=text),
    ]
    content = _encode(_req(messages=[Message("user", parts)]))["messages"][0]["content"]
    pdf = {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}
    assert content == [
        {"type": "document", "source": pdf, "title": "a.pdf"},
        {"type": "document", "source": pdf},
        {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}},
        {"type": "document", "source": pdf},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "héllo"}},
    ]


@pytest.mark.parametrize(
    ("part", "error"),
    [
        (DocumentPart(), InvalidRequestError),
        (DocumentPart(media_type="text/plain", data="!!notbase64"), InvalidRequestError),
        (DocumentPart(media_type="text/csv", data="YQ=="), UnsupportedParameterError),
    ],
)
def test_bad_documents(part: DocumentPart, error: type[Exception]) -> None:
    """Documents without a source, bad text data or an unsupported type are refused."""
    with pytest.raises(error):
        _encode(_req(messages=[Message("user", [part])]))


def test_response_format() -> None:
    """json_schema becomes output_config.format; text is ignored; json_object is unsupported."""
    schema = {"type": "object"}
    body = _encode(_req(response_format={"type": "json_schema", "name": "x", "schema": schema}))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    nested = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert _encode(_req(response_format=nested))["output_config"]["format"]["schema"] == schema
    assert "output_config" not in _encode(_req(response_format={"type": "text"}))
    with pytest.raises(UnsupportedParameterError, match="'response_format'"):
        _encode(_req(response_format={"type": "json_object"}))
    assert "output_config" not in _encode(_req(response_format={"type": "json_object"}), drop_params=True)
    with pytest.raises(InvalidRequestError, match="needs a schema"):
        _encode(_req(response_format={"type": "json_schema"}))


@pytest.mark.parametrize(
    ("effort", "budget"),
    [("minimal", 1024), ("low", 1024), ("medium", 2048), ("high", 4096), ("xhigh", 8192), ("max", 16384)],
)
def test_reasoning_effort_budgets(effort: str, budget: int) -> None:
    """reasoning_effort becomes an enabled thinking budget (LiteLLM's numbers)."""
    body = _encode(_req(reasoning_effort=effort, max_tokens=100_000))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == 100_000


def test_max_tokens_is_raised_above_the_budget() -> None:
    """When max_tokens does not exceed the budget it becomes budget + max_tokens."""
    assert _encode(_req(reasoning_effort="high", max_tokens=500))["max_tokens"] == 4596
    assert _encode(_req(thinking_budget=4096))["max_tokens"] == 8192


def test_thinking_budget_edges() -> None:
    """An explicit budget wins; 0 disables; negative means medium; small budgets rise to 1024."""
    assert _encode(_req(thinking_budget=3000, reasoning_effort="low"))["thinking"]["budget_tokens"] == 3000
    assert _encode(_req(thinking_budget=0))["thinking"] == {"type": "disabled"}
    assert _encode(_req(thinking_budget=-1))["thinking"]["budget_tokens"] == 2048
    assert _encode(_req(thinking_budget=10))["thinking"]["budget_tokens"] == 1024
    assert _encode(_req(thinking_disabled=True, reasoning_effort="high"))["thinking"] == {"type": "disabled"}
    assert "thinking" not in _encode(_req(reasoning_effort="none"))
    odd = {"type": "between_tools"}
    assert _encode(_req(extra={"thinking": odd}))["thinking"] == odd


def test_unknown_reasoning_effort_is_invalid() -> None:
    """An effort name Anthropic has no budget for is refused naming reasoning_effort."""
    with pytest.raises(InvalidRequestError) as info:
        _encode(_req(reasoning_effort="extreme"))
    assert info.value.param == "reasoning_effort"


def test_thinking_with_drop_params_drops_forbidden_sampling() -> None:
    """With thinking and drop_params, temperature != 1, top_k and top_p < 0.95 are dropped."""
    req = _req(reasoning_effort="low", temperature=0.2, top_k=5, top_p=0.5)
    body = _encode(req, drop_params=True)
    assert not {"temperature", "top_k", "top_p"} & body.keys()
    kept = _encode(_req(reasoning_effort="low", temperature=1.0, top_p=0.97), drop_params=True)
    assert (kept["temperature"], kept["top_p"]) == (1.0, 0.97)
    assert _encode(req)["temperature"] == 0.2


def test_unsupported_parameters_are_named() -> None:
    """seed, n > 1 and foreign extra fields are refused with a message naming them."""
    with pytest.raises(UnsupportedParameterError) as info:
        _encode(_req(seed=1))
    assert info.value.param == "seed"
    assert info.value.message == (
        "Parameter 'seed' is not supported by Anthropic; remove it or set litellm_settings.drop_params: true"
    )
    with pytest.raises(UnsupportedParameterError) as info:
        _encode(_req(n=2, extra={"logit_bias": {}, "presence_penalty": 1}))
    assert "Parameters 'logit_bias', 'presence_penalty', 'n' are not supported" in info.value.message
    _encode(_req(n=1, extra={"stream_options": {"include_usage": True}}))


def test_drop_params_drops_unsupported() -> None:
    """With drop_params, unsupported parameters are silently left out."""
    body = _encode(_req(seed=1, n=3, extra={"logit_bias": {}}), drop_params=True)
    assert not {"seed", "n", "logit_bias"} & body.keys()


def test_anthropic_extras_pass_through() -> None:
    """Anthropic fields kept in extra go back into the body."""
    extra = {
        "container": "c",
        "context_management": {"edits": []},
        "service_tier": "auto",
        "output_config": {"task_budget": 1},
    }
    body = _encode(_req(extra=extra))
    assert body["container"] == "c"
    assert body["context_management"] == {"edits": []}
    assert body["service_tier"] == "auto"
    assert body["output_config"] == {"task_budget": 1}
    with pytest.raises(UnsupportedParameterError, match="service_tier"):
        _encode(_req(extra={"service_tier": "flex"}))
