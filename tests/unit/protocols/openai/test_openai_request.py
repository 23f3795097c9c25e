"""Unit tests for bastion.protocols.openai.request (decode_request, encode_request, with_stream_usage)."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.canonical import (
    ChatRequest,
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
from bastion.protocols.openai.request import decode_request, encode_request, with_stream_usage


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-x", "messages": list(messages), **fields}


USER = {"role": "user", "content": "hi"}


# --------------------------------------------------------------------------------------------
# decode_request: messages


def test_system_and_developer_messages_hoist_in_order() -> None:
    """System and developer messages become the system prompt, in order, wherever they stand."""
    req = decode_request(
        body(
            {"role": "system", "content": "one"},
            USER,
            {
                "role": "developer",
                "content": [{"type": "text", "text": "two"}, {"type": "text", "text": "3"}],
            },
        )
    )
    assert [p.text for p in req.system] == ["one", "two", "3"]
    assert req.messages == [Message("user", [TextPart("hi")])]


def test_system_message_rejects_images() -> None:
    """A system message may only contain text parts."""
    image = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body({"role": "system", "content": [image]}, USER))
    assert info.value.param == "messages[0].content[0]"


def test_string_user_content_is_one_text_part() -> None:
    """A string content is one text part."""
    req = decode_request(body(USER))
    assert req.messages[0].content == [TextPart("hi")]


def test_user_parts_text_image_data_url_and_http_url() -> None:
    """Text, data-URL and http image parts map to TextPart and the two ImagePart forms."""
    req = decode_request(
        body(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/jpeg;base64,QUJD", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        )
    )
    assert req.messages[0].content == [
        TextPart("look"),
        ImagePart(media_type="image/jpeg", data="QUJD", detail="low"),
        ImagePart(url="https://example.com/cat.png"),
    ]


def test_image_url_given_as_bare_string_is_accepted() -> None:
    """Some clients send image_url as the URL string itself."""
    req = decode_request(
        body({"role": "user", "content": [{"type": "image_url", "image_url": "https://a/b.png"}]})
    )
    assert req.messages[0].content == [ImagePart(url="https://a/b.png")]


def test_data_url_without_base64_is_rejected_with_path() -> None:
    """A data URL that is not base64 is refused, naming the field."""
    part = {"type": "image_url", "image_url": {"url": "data:image/png,abc"}}
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body({"role": "user", "content": [part]}))
    assert info.value.param == "messages[0].content[0].image_url.url"


def test_file_part_with_data_url_becomes_document() -> None:
    """A file part with file_data becomes a DocumentPart with media type and filename."""
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}
    req = decode_request(body({"role": "user", "content": [part]}))
    assert req.messages[0].content == [
        DocumentPart(media_type="application/pdf", data="JVBE", filename="a.pdf")
    ]


def test_file_part_with_raw_base64_guesses_media_type_from_filename() -> None:
    """Raw base64 file_data takes its media type from the filename."""
    part = {"type": "file", "file": {"file_data": "aGk=", "filename": "notes.txt"}}
    req = decode_request(body({"role": "user", "content": [part]}))
    assert req.messages[0].content == [
        DocumentPart(media_type="text/plain", data="aGk=", filename="notes.txt")
    ]


def test_file_id_is_rejected_with_advice() -> None:
    """A file_id reference cannot be translated; the error says to send the file inline."""
    part = {"type": "file", "file": {"file_id": "file-1"}}
    with pytest.raises(InvalidRequestError, match="file_data") as info:
        decode_request(body({"role": "user", "content": [part]}))
    assert info.value.param == "messages[0].content[0].file.file_id"


def test_input_audio_is_rejected() -> None:
    """Audio input has no canonical form: a clear 400."""
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(InvalidRequestError, match="Audio"):
        decode_request(body({"role": "user", "content": [part]}))


def test_unknown_part_type_is_rejected() -> None:
    """An unknown part type is named in the error."""
    with pytest.raises(InvalidRequestError, match="'video'"):
        decode_request(body({"role": "user", "content": [{"type": "video"}]}))


def test_text_part_cache_control_is_kept() -> None:
    """A cache_control marker on a text part (LiteLLM style) survives decoding."""
    part = {"type": "text", "text": "big", "cache_control": {"type": "ephemeral"}}
    req = decode_request(body({"role": "user", "content": [part]}))
    assert req.messages[0].content == [TextPart("big", {"type": "ephemeral"})]


def test_message_level_cache_control_applies_to_string_content() -> None:
    """A message-level cache_control marks the text of a string content."""
    msg = {"role": "system", "content": "rules", "cache_control": {"type": "ephemeral"}}
    req = decode_request(body(msg, USER))
    assert req.system == [TextPart("rules", {"type": "ephemeral"})]


def test_assistant_tool_calls_parse_arguments() -> None:
    """Assistant tool_calls become ToolCallParts with parsed arguments, after the text."""
    assistant = {
        "role": "assistant",
        "content": "checking",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}},
        ],
    }
    req = decode_request(body(USER, assistant))
    assert req.messages[1] == Message(
        "assistant",
        [
            TextPart("checking"),
            ToolCallPart("call_1", "weather", {"city": "Oslo"}),
            ToolCallPart("call_2", "time", {}),
        ],
    )


def test_bad_tool_call_arguments_name_the_message() -> None:
    """Invalid JSON arguments are refused with the path of the offending field."""
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}],
    }
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]") as info:
        decode_request(body(USER, assistant))
    assert info.value.param == "messages[1].tool_calls[0].function.arguments"


def test_tool_call_arguments_must_be_an_object() -> None:
    """Arguments that encode a JSON array are refused."""
    assistant = {
        "role": "assistant",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}],
    }
    with pytest.raises(InvalidRequestError, match="JSON object"):
        decode_request(body(USER, assistant))


def test_assistant_empty_content_with_tool_calls_has_no_text_part() -> None:
    """An empty string next to tool calls adds no empty text part."""
    assistant = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    req = decode_request(body(USER, assistant))
    assert req.messages[1].content == [ToolCallPart("c", "f", {})]


def test_assistant_refusal_and_thinking_blocks() -> None:
    """thinking_blocks come first (signed), then text, then the refusal text."""
    assistant = {
        "role": "assistant",
        "content": "a",
        "refusal": "no",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xyz"},
        ],
    }
    req = decode_request(body(USER, assistant))
    assert req.messages[1].content == [
        ThinkingPart("hmm", "sig"),
        RedactedThinkingPart("xyz"),
        TextPart("a"),
        TextPart("no"),
    ]


def test_consecutive_tool_messages_merge_into_one_user_message_with_names() -> None:
    """Tool messages fold into one user message of results; names come from the calls."""
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "fa", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "fb", "arguments": "{}"}},
        ],
    }
    req = decode_request(
        body(
            USER,
            assistant,
            {"role": "tool", "tool_call_id": "a", "content": "ra"},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "rb"}]},
        )
    )
    assert len(req.messages) == 3
    assert req.messages[2] == Message(
        "user",
        [ToolResultPart("a", [TextPart("ra")], name="fa"), ToolResultPart("b", [TextPart("rb")], name="fb")],
    )


def test_user_message_after_tool_messages_joins_the_results() -> None:
    """Text sent right after tool results joins the same user turn, after the results."""
    req = decode_request(
        body(
            USER,
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "r"},
            {"role": "user", "content": "and now?"},
            {"role": "user", "content": "separate"},
        )
    )
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "user"]
    assert req.messages[2].content == [ToolResultPart("a", [TextPart("r")], name="f"), TextPart("and now?")]
    assert req.messages[3].content == [TextPart("separate")]


def test_empty_tool_content_is_an_empty_result() -> None:
    """An empty tool content gives a result with no parts."""
    req = decode_request(body(USER, {"role": "tool", "tool_call_id": "x", "content": ""}))
    assert req.messages[1].content == [ToolResultPart("x", [], name=None)]


def test_tool_message_without_id_is_rejected() -> None:
    """A tool message must say which call it answers."""
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body(USER, {"role": "tool", "content": "r"}))
    assert info.value.param == "messages[1].tool_call_id"


def test_legacy_function_call_and_function_message_pair_up() -> None:
    """Legacy function_call / function messages become a matching call and result."""
    req = decode_request(
        body(
            USER,
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"x":1}'}},
            {"role": "function", "name": "f", "content": "done"},
        )
    )
    call = req.messages[1].content[0]
    result = req.messages[2].content[0]
    assert isinstance(call, ToolCallPart)
    assert isinstance(result, ToolResultPart)
    assert call.arguments == {"x": 1}
    assert result.tool_call_id == call.id
    assert result.name == "f"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": [USER]}, "model"),
        ({"model": "", "messages": [USER]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "m", "messages": [USER], "max_tokens": "10"}, "max_tokens"),
        ({"model": "m", "messages": [USER], "max_tokens": True}, "max_tokens"),
        ({"model": "m", "messages": [USER], "temperature": "hot"}, "temperature"),
        ({"model": "m", "messages": [USER], "stop": [1]}, "stop"),
        ({"model": "m", "messages": [USER], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [USER], "user": 7}, "user"),
        ({"model": "m", "messages": [USER], "tools": {}}, "tools"),
        ({"model": "m", "messages": [USER], "tools": [{"type": "function", "function": {}}]}, "tools[0]"),
        ({"model": "m", "messages": [USER], "tools": [{"type": "custom", "custom": {}}]}, "tools[0].type"),
        ({"model": "m", "messages": [USER], "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "messages": [USER], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"model": "m", "messages": [USER], "response_format": "json"}, "response_format"),
    ],
)
def test_malformed_bodies_are_rejected_naming_the_field(payload: dict[str, Any], param: str) -> None:
    """Each malformed shape gives an InvalidRequestError whose param is the field path."""
    with pytest.raises(InvalidRequestError) as info:
        decode_request(payload)
    assert info.value.param == param
    assert info.value.status == 400


def test_body_must_be_an_object() -> None:
    """A JSON array body is refused."""
    with pytest.raises(InvalidRequestError, match="JSON object"):
        decode_request([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# decode_request: top-level fields


def test_sampling_fields_and_limits() -> None:
    """Sampling fields map one to one; max_completion_tokens wins over max_tokens."""
    req = decode_request(
        body(
            USER,
            max_tokens=10,
            max_completion_tokens=20,
            temperature=1,
            top_p=0.5,
            seed=3,
            n=2,
            user="u-1",
            reasoning_effort="high",
            stream=True,
            stop="END",
        )
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.seed, req.n) == (20, 1.0, 0.5, 3, 2)
    assert (req.user, req.reasoning_effort, req.stream, req.stop) == ("u-1", "high", True, ["END"])
    assert isinstance(req.temperature, float)


def test_max_tokens_alone_is_used() -> None:
    """Without max_completion_tokens, max_tokens is the cap."""
    assert decode_request(body(USER, max_tokens=7)).max_tokens == 7


def test_stop_list_is_kept() -> None:
    """A stop list is kept as given."""
    assert decode_request(body(USER, stop=["a", "b"])).stop == ["a", "b"]


def test_tools_and_named_tool_choice() -> None:
    """Function tools become Tools; a named tool_choice becomes mode 'tool'."""
    req = decode_request(
        body(
            USER,
            tools=[
                {
                    "type": "function",
                    "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
                },
                {"type": "function", "function": {"name": "g"}},
            ],
            tool_choice={"type": "function", "function": {"name": "f"}},
            parallel_tool_calls=False,
        )
    )
    assert req.tools == [Tool("f", "d", {"type": "object"}), Tool("g")]
    assert req.tool_choice == ToolChoice("tool", "f", parallel=False)


@pytest.mark.parametrize(("wire", "mode"), [("auto", "auto"), ("required", "any"), ("none", "none")])
def test_tool_choice_strings(wire: str, mode: str) -> None:
    """auto/required/none map to auto/any/none."""
    assert decode_request(body(USER, tool_choice=wire)).tool_choice == ToolChoice(mode)  # type: ignore[arg-type]


def test_parallel_tool_calls_alone_gives_auto_choice() -> None:
    """parallel_tool_calls without tool_choice still reaches the canonical form."""
    assert decode_request(body(USER, parallel_tool_calls=False)).tool_choice == ToolChoice(
        "auto", parallel=False
    )


def test_legacy_functions_and_function_call() -> None:
    """Legacy functions/function_call map to tools and a named choice."""
    req = decode_request(
        body(USER, functions=[{"name": "f", "parameters": {"type": "object"}}], function_call={"name": "f"})
    )
    assert req.tools == [Tool("f", None, {"type": "object"})]
    assert req.tool_choice == ToolChoice("tool", "f")


def test_response_format_json_schema_is_flattened() -> None:
    """json_schema response formats flatten to {type, name, schema, ...}; text means none."""
    schema = {"name": "out", "schema": {"type": "object"}, "strict": True}
    req = decode_request(body(USER, response_format={"type": "json_schema", "json_schema": schema}))
    assert req.response_format == {
        "type": "json_schema",
        "name": "out",
        "schema": {"type": "object"},
        "strict": True,
    }
    assert decode_request(body(USER, response_format={"type": "text"})).response_format is None
    assert decode_request(body(USER, response_format={"type": "json_object"})).response_format == {
        "type": "json_object"
    }


def test_thinking_extension_maps_to_budget_or_disabled() -> None:
    """LiteLLM's thinking field sets the budget, or marks thinking disabled."""
    req = decode_request(body(USER, thinking={"type": "enabled", "budget_tokens": 2048}))
    assert req.thinking_budget == 2048
    assert decode_request(body(USER, thinking={"type": "disabled"})).thinking_disabled is True


def test_unknown_fields_go_to_extra_and_stream_options_is_dropped() -> None:
    """Fields with no canonical meaning land in extra; stream_options, nulls and neutral defaults do not."""
    req = decode_request(
        body(
            USER,
            logit_bias={"50256": -100},
            presence_penalty=0.5,
            frequency_penalty=0,
            logprobs=False,
            metadata={"k": "v"},
            stream_options={"include_usage": True},
            service_tier=None,
        )
    )
    assert req.extra == {"logit_bias": {"50256": -100}, "presence_penalty": 0.5, "metadata": {"k": "v"}}


# --------------------------------------------------------------------------------------------
# encode_request


def canonical(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(model="claude-x", messages=list(messages), **fields)


HELLO = Message("user", [TextPart("hello")])


def test_encode_minimal_request() -> None:
    """A minimal request encodes to model, messages and stream=false."""
    assert encode_request(canonical(HELLO), "gpt-4.1", drop_params=False) == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": False,
    }


def test_encode_streaming_asks_for_usage() -> None:
    """A streaming request always asks for the usage chunk."""
    out = encode_request(canonical(HELLO, stream=True), "m", drop_params=False)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


def test_encode_sends_max_tokens_not_max_completion_tokens() -> None:
    """The cap goes out as max_tokens, which every OpenAI-compatible server knows."""
    out = encode_request(canonical(HELLO, max_tokens=100), "m", drop_params=False)
    assert out["max_tokens"] == 100
    assert "max_completion_tokens" not in out


def test_encode_system_single_and_multiple_parts() -> None:
    """One system part is a string; several are a list of text parts; cache_control is dropped."""
    one = encode_request(
        canonical(HELLO, system=[TextPart("s", {"type": "ephemeral"})]), "m", drop_params=False
    )
    assert one["messages"][0] == {"role": "system", "content": "s"}
    two = encode_request(canonical(HELLO, system=[TextPart("a"), TextPart("b")]), "m", drop_params=False)
    assert two["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }


def test_encode_tool_results_become_tool_messages_before_the_rest() -> None:
    """Results become tool messages first, then a user message with the other parts."""
    msg = Message(
        "user",
        [
            TextPart("and this"),
            ToolResultPart("a", [TextPart("ra")]),
            ToolResultPart("b", [TextPart("x"), TextPart("y")], is_error=True),
            ToolResultPart("c", []),
        ],
    )
    out = encode_request(canonical(HELLO, msg), "m", drop_params=False)["messages"][1:]
    assert out == [
        {"role": "tool", "tool_call_id": "a", "content": "ra"},
        {
            "role": "tool",
            "tool_call_id": "b",
            "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}],
        },
        {"role": "tool", "tool_call_id": "c", "content": ""},
        {"role": "user", "content": "and this"},
    ]


def test_encode_images_inside_tool_results_move_to_a_user_message() -> None:
    """Media in a tool result cannot ride in a tool message; it follows in a user message."""
    image = ImagePart(media_type="image/png", data="AAA")
    msg = Message("user", [ToolResultPart("a", [TextPart("see image"), image]), TextPart("thanks")])
    out = encode_request(canonical(HELLO, msg), "m", drop_params=False)["messages"][1:]
    assert out == [
        {"role": "tool", "tool_call_id": "a", "content": "see image"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_encode_user_media_parts() -> None:
    """Images and documents become image_url and file parts."""
    msg = Message(
        "user",
        [
            ImagePart(url="https://x/y.png", detail="high"),
            DocumentPart(media_type="application/pdf", data="JVB"),
            DocumentPart(media_type="text/plain", data="aGk=", filename="a.txt"),
        ],
    )
    out = encode_request(canonical(msg), "m", drop_params=False)["messages"][0]["content"]
    assert out == [
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVB", "filename": "document.pdf"},
        },
        {"type": "file", "file": {"file_data": "data:text/plain;base64,aGk=", "filename": "a.txt"}},
    ]


def test_encode_document_by_url_is_refused() -> None:
    """OpenAI cannot fetch a document URL: the encoder refuses rather than drop content."""
    msg = Message("user", [DocumentPart(url="https://x/a.pdf")])
    with pytest.raises(UnsupportedParameterError, match="inline"):
        encode_request(canonical(msg), "m", drop_params=True)


def test_encode_assistant_drops_thinking_and_serialises_arguments() -> None:
    """Thinking is dropped, texts join, tool arguments become a JSON string, content null."""
    msg = Message(
        "assistant",
        [
            ThinkingPart("hmm", "sig"),
            RedactedThinkingPart("zzz"),
            TextPart("a"),
            TextPart("b"),
            ToolCallPart("c1", "f", {"x": [1, 2]}, signature="gem"),
        ],
    )
    out = encode_request(canonical(HELLO, msg), "m", drop_params=False)["messages"][1]
    assert out == {
        "role": "assistant",
        "content": "ab",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":[1,2]}'}}
        ],
    }
    only_calls = Message("assistant", [ThinkingPart("t"), ToolCallPart("c1", "f")])
    assert (
        encode_request(canonical(HELLO, only_calls), "m", drop_params=False)["messages"][1]["content"] is None
    )


def test_encode_tools_choice_and_parallel() -> None:
    """Tools, the mapped tool_choice and parallel_tool_calls are sent together."""
    req = canonical(HELLO, tools=[Tool("f", "d")], tool_choice=ToolChoice("any", parallel=False))
    out = encode_request(req, "m", drop_params=False)
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False
    named = encode_request(
        canonical(HELLO, tools=[Tool("f")], tool_choice=ToolChoice("tool", "f")), "m", drop_params=False
    )
    assert named["tool_choice"] == {"type": "function", "function": {"name": "f"}}


def test_encode_tool_choice_without_tools_is_omitted() -> None:
    """OpenAI rejects tool_choice without tools, so it is not sent."""
    out = encode_request(
        canonical(HELLO, tool_choice=ToolChoice("none", parallel=True)), "m", drop_params=False
    )
    assert "tool_choice" not in out
    assert "parallel_tool_calls" not in out


def test_encode_response_format_json_schema_nests_again() -> None:
    """A flattened json_schema format is nested back under json_schema, with a default name."""
    req = canonical(HELLO, response_format={"type": "json_schema", "schema": {"type": "object"}})
    assert encode_request(req, "m", drop_params=False)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"schema": {"type": "object"}, "name": "response"},
    }


def test_encode_refuses_top_k_and_extra_unless_drop_params() -> None:
    """top_k and foreign extra fields are refused by name, or dropped with drop_params."""
    req = canonical(HELLO, top_k=5)
    with pytest.raises(UnsupportedParameterError) as info:
        encode_request(req, "m", drop_params=False)
    assert str(info.value) == (
        "Parameter 'top_k' is not supported by OpenAI-compatible providers; remove it or set "
        "litellm_settings.drop_params: true"
    )
    assert info.value.param == "top_k"
    several = canonical(HELLO, top_k=5, extra={"container": "c", "mcp_servers": []})
    with pytest.raises(UnsupportedParameterError, match="'top_k', 'container', 'mcp_servers' are"):
        encode_request(several, "m", drop_params=False)
    dropped = encode_request(several, "m", drop_params=True)
    assert "top_k" not in dropped
    assert "container" not in dropped


def test_encode_sends_sampling_fields_and_reasoning_effort_but_not_budget() -> None:
    """Sampling fields are sent; a thinking budget is not (no OpenAI equivalent)."""
    req = canonical(
        HELLO,
        temperature=0.2,
        top_p=0.9,
        stop=["x"],
        seed=1,
        n=1,
        user="u",
        reasoning_effort="low",
        thinking_budget=4096,
    )
    out = encode_request(req, "m", drop_params=False)
    assert {k: out[k] for k in ("temperature", "top_p", "stop", "seed", "n", "user", "reasoning_effort")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["x"],
        "seed": 1,
        "n": 1,
        "user": "u",
        "reasoning_effort": "low",
    }
    assert "thinking" not in out


def test_encode_empty_user_message_is_an_empty_string() -> None:
    """A user message with no parts still produces a message."""
    out = encode_request(canonical(Message("user", [])), "m", drop_params=False)
    assert out["messages"] == [{"role": "user", "content": ""}]


# --------------------------------------------------------------------------------------------
# with_stream_usage


def test_with_stream_usage_adds_include_usage() -> None:
    """A streaming body without include_usage gets it; the client did not ask."""
    payload: dict[str, Any] = {"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}}
    out, asked = with_stream_usage(payload)
    assert out["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert asked is False


def test_with_stream_usage_reports_client_request() -> None:
    """A client that asked for usage is reported as such and the body is unchanged."""
    payload = {"model": "m", "stream": True, "stream_options": {"include_usage": True}}
    out, asked = with_stream_usage(payload)
    assert asked is True
    assert out == {"model": "m", "stream": True, "stream_options": {"include_usage": True}}


def test_with_stream_usage_creates_options_when_absent() -> None:
    """No stream_options at all: they are created."""
    out, asked = with_stream_usage({"stream": True})
    assert out["stream_options"] == {"include_usage": True}
    assert not asked


def test_with_stream_usage_leaves_non_streaming_body_alone() -> None:
    """Non-streaming bodies are not touched."""
    out, asked = with_stream_usage({"model": "m"})
    assert out == {"model": "m"}
    assert asked is False


def _user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _calls(*calls: Any) -> dict[str, Any]:
    return {"role": "assistant", "tool_calls": list(calls)}


@pytest.mark.parametrize(
    ("message", "param"),
    [
        (_user(["text"]), "messages[0].content[0]"),
        (_user([{"type": "text", "text": 1}]), "messages[0].content[0].text"),
        (_user([{"type": "refusal", "refusal": None}]), "messages[0].content[0].refusal"),
        (_user([{"type": "image_url", "image_url": {"url": ""}}]), "messages[0].content[0].image_url.url"),
        (_user([{"type": "file", "file": "x"}]), "messages[0].content[0].file"),
        (_user([{"type": "file", "file": {"file_data": ""}}]), "messages[0].content[0].file.file_data"),
        ({"role": "system", "content": 3}, "messages[0].content"),
        ({"role": "function", "content": "r"}, "messages[0].name"),
        ({"role": "assistant", "content": 3}, "messages[0].content"),
        (
            {"role": "assistant", "content": [{"type": "image_url", "image_url": "https://a"}]},
            "messages[0].content[0]",
        ),
        ({"role": "assistant", "tool_calls": {}}, "messages[0].tool_calls"),
        (_calls("x"), "messages[0].tool_calls[0]"),
        (_calls({"function": {"name": "f"}}), "messages[0].tool_calls[0].id"),
        (_calls({"id": "c", "function": {}}), "messages[0].tool_calls[0].function"),
        (
            _calls({"id": "c", "function": {"name": "f", "arguments": 5}}),
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_malformed_messages_name_the_field(message: dict[str, Any], param: str) -> None:
    """Malformed parts and messages are refused with the exact path of the bad field."""
    with pytest.raises(InvalidRequestError) as info:
        decode_request(body(message))
    assert info.value.param == param


def test_assistant_content_parts_and_object_arguments() -> None:
    """Assistant text/refusal parts are text; object arguments are accepted as they are."""
    msg = {
        "role": "assistant",
        "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "b"}],
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"k": 1}}}],
        "thinking_blocks": ["junk", {"type": "thinking"}],
    }
    req = decode_request(body(USER, msg))
    assert req.messages[1].content == [TextPart("a"), TextPart("b"), ToolCallPart("c", "f", {"k": 1})]


def test_file_data_without_known_suffix_defaults_to_pdf() -> None:
    """Raw file data with no recognisable filename is taken as a PDF."""
    part = {"type": "file", "file": {"file_data": "JVBE"}}
    req = decode_request(body(_user([part])))
    assert req.messages[0].content == [DocumentPart(media_type="application/pdf", data="JVBE")]


def test_encode_refuses_media_in_assistant_and_empty_images() -> None:
    """Content OpenAI cannot take is refused instead of silently dropped."""
    with pytest.raises(UnsupportedParameterError):
        encode_request(
            canonical(HELLO, Message("assistant", [ImagePart(url="https://a")])), "m", drop_params=True
        )
    with pytest.raises(InvalidRequestError, match="neither"):
        encode_request(canonical(Message("user", [ImagePart()])), "m", drop_params=True)
