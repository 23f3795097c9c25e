"""Responses API request bodies decode into the canonical request, hostile ones into clear 400s."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.canonical import (
    DocumentPart,
    ImagePart,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from bastion.protocols.openai_responses.request import REDACTED_PREFIX, decode_request


def _decode(**fields: Any) -> Any:
    return decode_request({"model": "m", **fields})


def test_a_string_input_is_one_user_turn() -> None:
    """``input: "hi"`` is one user message; instructions are the system prompt."""
    req = _decode(input="hi", instructions="Be brief.")
    assert [(m.role, m.content) for m in req.messages] == [("user", [TextPart("hi")])]
    assert req.system == [TextPart("Be brief.")]


def test_items_make_alternating_turns_with_ids_kept() -> None:
    """Calls join the assistant turn, outputs the next user turn with their call ids and names;
    system and developer messages join the system prompt after the instructions."""
    req = _decode(
        instructions="I",
        input=[
            {"role": "system", "content": "S"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "let me look"}]},
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a": 1}'},
            {"type": "function_call", "call_id": "call_2", "name": "g", "arguments": ""},
            {"type": "function_call_output", "call_id": "call_1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "call_2",
                "output": [{"type": "input_text", "text": "two"}],
            },
            {"role": "developer", "content": "D"},
            {"role": "user", "content": "thanks"},
        ],
    )
    assert [p.text for p in req.system] == ["I", "S", "D"]
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    assistant = req.messages[1].content
    assert assistant == [
        TextPart("let me look"),
        ToolCallPart("call_1", "f", {"a": 1}),
        ToolCallPart("call_2", "g", {}),
    ]
    results = req.messages[2].content
    assert results[0] == ToolResultPart("call_1", [TextPart("one")], name="f")
    assert results[1] == ToolResultPart("call_2", [TextPart("two")], name="g")
    assert results[2] == TextPart("thanks")


def test_images_and_files() -> None:
    """``input_image`` by URL or data URL and ``input_file`` data become canonical media parts."""
    req = _decode(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
                    {"type": "input_image", "image_url": "data:image/png;base64,QUJD"},
                    {
                        "type": "input_file",
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,UERG",
                    },
                ],
            }
        ]
    )
    parts = req.messages[0].content
    assert parts[0] == ImagePart(url="https://example.com/a.png", detail="low")
    assert parts[1] == ImagePart(media_type="image/png", data="QUJD")
    assert parts[2] == DocumentPart(media_type="application/pdf", data="UERG", filename="a.pdf")


def test_options_map_to_canonical_fields() -> None:
    """max_output_tokens, sampling, tools, tool_choice, parallel calls, reasoning, text.format, user."""
    req = _decode(
        input="x",
        max_output_tokens=50,
        temperature=0.5,
        top_p=0.9,
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        tool_choice={"type": "function", "name": "f"},
        parallel_tool_calls=False,
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}},
        safety_identifier="end-user-1",
        store=True,
        metadata={"a": "b"},
        include=["reasoning.encrypted_content"],
        prompt_cache_key="k",
        client_metadata={"x-codex-installation-id": "abc"},  # Codex sends it on every call
        stream=True,
    )
    assert (req.max_tokens, req.temperature, req.top_p) == (50, 0.5, 0.9)
    assert [t.name for t in req.tools] == ["f"]
    assert req.tool_choice is not None
    assert (req.tool_choice.mode, req.tool_choice.name, req.tool_choice.parallel) == ("tool", "f", False)
    assert req.reasoning_effort == "high"
    assert req.response_format == {
        "type": "json_schema",
        "name": "w",
        "schema": {"type": "object"},
        "strict": True,
    }
    assert req.user == "end-user-1"
    assert req.stream is True
    assert req.extra == {}
    assert _decode(input="x", reasoning={"effort": "none"}).thinking_disabled is True
    assert _decode(input="x", text={"format": {"type": "json_object"}}).response_format == {
        "type": "json_object"
    }
    assert _decode(input="x", unknown_field=1).extra == {"unknown_field": 1}


def test_reasoning_items_come_back_signed() -> None:
    """A reasoning item with encrypted_content is signed thinking; one without is dropped."""
    req = _decode(
        input=[
            {"role": "user", "content": "q"},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "think"}],
                "encrypted_content": "sig",
            },
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "lost"}]},
            {"type": "reasoning", "summary": [], "encrypted_content": REDACTED_PREFIX + "blob"},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        ]
    )
    assert req.messages[1].content == [
        ThinkingPart("think", "sig"),
        RedactedThinkingPart("blob"),
        ToolCallPart("c", "f", {}),
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": []}, "input"),
        ({"input": None}, "input"),
        ({"input": [{"role": "system", "content": "only a system turn"}]}, "input"),
        ({"input": ["text"]}, "input[0]"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{nope"}]},
            "input[0].arguments",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]},
            "input[0].arguments",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"input": [{"type": "web_search_call", "id": "ws"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:x"}]}]},
            "input[0].content[0].image_url",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x"}]}]},
            "input[0].content[0]",
        ),
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "x", "tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"input": "x", "tool_choice": "sometimes"}, "tool_choice"),
        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "x", "max_output_tokens": True}, "max_output_tokens"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
        ({"input": "x", "reasoning": "high"}, "reasoning"),
        ({"input": "x", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"input": "x", "background": True}, "background"),
        ({"input": "x", "instructions": ["a"]}, "instructions"),
    ],
)
def test_bad_bodies_name_the_field(fields: dict[str, Any], param: str) -> None:
    """Each malformed or OpenAI-only request is a 400 whose ``param`` is the field's path."""
    with pytest.raises(InvalidRequestError) as caught:
        _decode(**fields)
    assert caught.value.param == param


def test_model_is_required() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decode_request({"input": "x"})
    assert caught.value.param == "model"


def test_custom_tools_become_functions_of_one_string() -> None:
    """A custom (freeform) tool is a function taking ``input``, its grammar in the description; its
    calls and outputs are tool calls and results."""
    req = _decode(
        tools=[
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Edit files.",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: PATCH"},
            }
        ],
        tool_choice={"type": "custom", "name": "apply_patch"},
        input=[
            {"role": "user", "content": "fix it"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done"},
        ],
    )
    tool = req.tools[0]
    assert tool.name == "apply_patch"
    assert tool.parameters["required"] == ["input"]
    assert (
        tool.description is not None
        and "Edit files." in tool.description
        and "start: PATCH" in tool.description
    )
    assert req.tool_choice is not None and (req.tool_choice.mode, req.tool_choice.name) == (
        "tool",
        "apply_patch",
    )
    assert req.messages[1].content == [ToolCallPart("c1", "apply_patch", {"input": "*** Begin Patch"})]
    assert req.messages[2].content == [ToolResultPart("c1", [TextPart("Done")], name="apply_patch")]
