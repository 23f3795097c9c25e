"""Unit tests of bastion.protocols.gemini.request: decode_request, encode_request, model_path."""

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
from bastion.protocols.gemini.request import decode_request, encode_request, model_path


def _decode(body: dict[str, Any]) -> ChatRequest:
    return decode_request(body, "gemini-2.5-flash", stream=False)


def _user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


# ---------------------------------------------------------------------------------------------
# model_path


def test_model_path_generate() -> None:
    """A non-streaming call goes to :generateContent under v1beta."""
    assert model_path("gemini-2.5-flash", stream=False) == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_model_path_stream_strips_resource_prefix() -> None:
    """A streaming call asks for SSE, and a models/ prefix is not doubled."""
    assert (
        model_path("models/gemini-2.5-pro", stream=True)
        == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )


# ---------------------------------------------------------------------------------------------
# decode_request: contents and parts


def test_decode_roles_and_model_from_path() -> None:
    """user/model roles become user/assistant; a missing role is user; model and stream come from the call."""
    req = decode_request(
        {"contents": [{"parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]}]},
        "gemini-x",
        stream=True,
    )
    assert req.model == "gemini-x"
    assert req.stream is True
    assert req.messages == [
        Message(role="user", content=[TextPart(text="a")]),
        Message(role="assistant", content=[TextPart(text="b")]),
    ]


@pytest.mark.parametrize(
    "system",
    [
        "Be brief.",
        {"parts": [{"text": "Be brief."}]},
        {"role": "user", "parts": [{"text": "Be brief."}]},
        {"text": "Be brief."},
        [{"text": "Be brief."}],
    ],
)
def test_decode_system_instruction_shapes(system: Any) -> None:
    """systemInstruction as a string, a Content, a bare Part or a list of parts becomes the system prompt."""
    req = _decode({"systemInstruction": system, "contents": [_user()]})
    assert req.system == [TextPart(text="Be brief.")]


def test_decode_system_instruction_snake_case() -> None:
    """system_instruction (snake_case) is read too."""
    req = _decode({"system_instruction": {"parts": [{"text": "S"}]}, "contents": [_user()]})
    assert req.system == [TextPart(text="S")]


def test_decode_thought_part_becomes_thinking_with_signature() -> None:
    """A thought text part is thinking, keeping its signature."""
    req = _decode(
        {
            "contents": [
                _user(),
                {"role": "model", "parts": [{"text": "hmm", "thought": True, "thoughtSignature": "c2ln"}]},
            ]
        }
    )
    assert req.messages[1].content == [ThinkingPart(text="hmm", signature="c2ln")]


def test_decode_empty_text_and_text_signature_are_skipped() -> None:
    """Empty text parts (the SDK's stream history has them) are dropped; a text signature is not kept."""
    req = _decode(
        {"contents": [{"role": "user", "parts": [{"text": ""}, {"text": "x", "thoughtSignature": "c2ln"}]}]}
    )
    assert req.messages[0].content == [TextPart(text="x")]


@pytest.mark.parametrize(
    ("key", "inner"),
    [
        ("inlineData", {"mimeType": "image/png", "data": "AAAA"}),
        ("inline_data", {"mime_type": "image/png", "data": "AAAA"}),
    ],
)
def test_decode_inline_image(key: str, inner: dict[str, str]) -> None:
    """inlineData with an image MIME type is an image part (camelCase or snake_case)."""
    req = _decode({"contents": [{"role": "user", "parts": [{key: inner}]}]})
    assert req.messages[0].content == [ImagePart(media_type="image/png", data="AAAA")]


def test_decode_inline_pdf_is_document() -> None:
    """inlineData that is not an image is a document part."""
    req = _decode(
        {"contents": [{"parts": [{"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}}]}]}
    )
    assert req.messages[0].content == [DocumentPart(media_type="application/pdf", data="JVBE")]


def test_decode_file_data_gives_url_parts() -> None:
    """fileData becomes an image or document part by URL."""
    req = _decode(
        {
            "contents": [
                {
                    "parts": [
                        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x/a.jpg"}},
                        {"file_data": {"mime_type": "application/pdf", "file_uri": "gs://b/c.pdf"}},
                    ]
                }
            ]
        }
    )
    assert req.messages[0].content == [
        ImagePart(media_type="image/jpeg", url="https://x/a.jpg"),
        DocumentPart(media_type="application/pdf", url="gs://b/c.pdf"),
    ]


def test_decode_function_call_and_response_pairing_by_name() -> None:
    """Calls without ids get call_<n>; responses pair with calls of the same name in call order."""
    req = _decode(
        {
            "contents": [
                _user(),
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"},
                        {"function_call": {"name": "f", "args": {"a": 2}}},
                        {"functionCall": {"name": "g"}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "g", "response": {"ok": True}}},
                        {"functionResponse": {"name": "f", "response": {"output": "one"}}},
                        {"function_response": {"name": "f", "response": {"error": "boom"}}},
                    ],
                },
            ]
        }
    )
    assert req.messages[1].content == [
        ToolCallPart(id="call_0", name="f", arguments={"a": 1}, signature="c2ln"),
        ToolCallPart(id="call_1", name="f", arguments={"a": 2}),
        ToolCallPart(id="call_2", name="g", arguments={}),
    ]
    assert req.messages[2].content == [
        ToolResultPart(tool_call_id="call_2", content=[TextPart(text='{"ok":true}')], name="g"),
        ToolResultPart(tool_call_id="call_0", content=[TextPart(text="one")], name="f"),
        ToolResultPart(tool_call_id="call_1", content=[TextPart(text="boom")], is_error=True, name="f"),
    ]


def test_decode_function_ids_are_kept() -> None:
    """Ids the client sent on calls and responses win over generated ones."""
    req = _decode(
        {
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"id": "toolu_1", "name": "f", "args": {}}}]},
                {"parts": [{"functionResponse": {"id": "toolu_1", "name": "f", "response": {"x": 1}}}]},
            ]
        }
    )
    assert isinstance(call := req.messages[0].content[0], ToolCallPart)
    assert call.id == "toolu_1"
    assert isinstance(result := req.messages[1].content[0], ToolResultPart)
    assert result.tool_call_id == "toolu_1"


def test_decode_unmatched_function_response_gets_name_id() -> None:
    """A response with no call to pair with gets call_<name>."""
    req = _decode({"contents": [{"parts": [{"functionResponse": {"name": "lookup", "response": {}}}]}]})
    assert isinstance(result := req.messages[0].content[0], ToolResultPart)
    assert result.tool_call_id == "call_lookup"


def test_decode_responses_pair_only_with_the_latest_model_turn() -> None:
    """An unanswered call of an earlier turn is not paired with a later response."""
    req = _decode(
        {
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                _user("never mind"),
                {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                {"parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            ]
        }
    )
    assert isinstance(result := req.messages[3].content[0], ToolResultPart)
    assert result.tool_call_id == "call_1"


def test_decode_function_response_with_media_parts() -> None:
    """Multimodal function responses keep their images in the tool result."""
    req = _decode(
        {
            "contents": [
                {
                    "parts": [
                        {
                            "functionResponse": {
                                "name": "shot",
                                "response": {"output": "here"},
                                "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
                            }
                        }
                    ]
                }
            ]
        }
    )
    assert isinstance(result := req.messages[0].content[0], ToolResultPart)
    assert result.content == [TextPart(text="here"), ImagePart(media_type="image/png", data="AAAA")]


def test_decode_code_execution_parts_become_text() -> None:
    """executableCode and codeExecutionResult are kept as readable text."""
    req = _decode(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                    ],
                }
            ]
        }
    )
    assert req.messages[0].content == [TextPart(text="```python\nprint(1)\n```"), TextPart(text="1\n")]


# ---------------------------------------------------------------------------------------------
# decode_request: tools, config


def test_decode_tools_both_schema_fields_and_server_tools() -> None:
    """parameters (Gemini Schema) is converted to JSON schema; parametersJsonSchema is taken as is."""
    req = _decode(
        {
            "contents": [_user()],
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "a",
                            "description": "A",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {"q": {"type": "STRING", "nullable": True}},
                                "required": ["q"],
                                "propertyOrdering": ["q"],
                            },
                        },
                        {
                            "name": "b",
                            "parameters_json_schema": {"type": "object", "properties": {"n": {"const": 1}}},
                        },
                        {"name": "c"},
                    ]
                },
                {"googleSearch": {}},
            ],
        }
    )
    assert req.tools == [
        Tool(
            name="a",
            description="A",
            parameters={
                "type": "object",
                "properties": {"q": {"type": ["string", "null"]}},
                "required": ["q"],
            },
        ),
        Tool(name="b", parameters={"type": "object", "properties": {"n": {"const": 1}}}),
        Tool(name="c"),
    ]
    assert req.extra == {"googleSearch": {}}


@pytest.mark.parametrize(
    ("config", "choice"),
    [
        ({"mode": "AUTO"}, ToolChoice(mode="auto")),
        ({"mode": "ANY"}, ToolChoice(mode="any")),
        ({"mode": "none"}, ToolChoice(mode="none")),
        ({"mode": "VALIDATED"}, ToolChoice(mode="auto")),
        ({"mode": "ANY", "allowedFunctionNames": ["f"]}, ToolChoice(mode="tool", name="f")),
        ({"mode": "ANY", "allowed_function_names": ["f", "g"]}, ToolChoice(mode="any")),
    ],
)
def test_decode_tool_config_modes(config: dict[str, Any], choice: ToolChoice) -> None:
    """functionCallingConfig modes map to the canonical tool choice; one allowed name forces that tool."""
    req = _decode({"contents": [_user()], "toolConfig": {"functionCallingConfig": config}})
    assert req.tool_choice == choice


def test_decode_generation_config_camel_case() -> None:
    """Every canonical generationConfig field is read from camelCase."""
    req = _decode(
        {
            "contents": [_user()],
            "generationConfig": {
                "maxOutputTokens": 512,
                "temperature": 0.2,
                "topP": 0.9,
                "topK": 40,
                "stopSequences": ["END"],
                "seed": 7,
                "candidateCount": 2,
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
                "presencePenalty": 0.5,
            },
        }
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.top_k) == (512, 0.2, 0.9, 40)
    assert (req.stop, req.seed, req.n) == (["END"], 7, 2)
    assert req.response_format == {"type": "json_schema", "name": "response", "schema": {"type": "object"}}
    assert req.thinking_budget == 1024
    assert req.thinking_disabled is False
    assert req.extra == {"presencePenalty": 0.5}


def test_decode_generation_config_snake_case() -> None:
    """The snake_case spelling (what the SDK sends inside thinkingConfig) is read the same."""
    req = _decode(
        {
            "contents": [_user()],
            "generation_config": {
                "max_output_tokens": 5,
                "top_p": 0.5,
                "top_k": 3,
                "stop_sequences": ["x"],
                "candidate_count": 1,
                "response_mime_type": "application/json",
                "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
                "thinking_config": {"thinking_budget": 0, "thinking_level": "HIGH"},
                "frequency_penalty": 0.1,
            },
        }
    )
    assert (req.max_tokens, req.top_p, req.top_k, req.stop, req.n) == (5, 0.5, 3, ["x"], 1)
    assert req.response_format == {
        "type": "json_schema",
        "name": "response",
        "schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
    }
    assert req.thinking_disabled is True
    assert req.reasoning_effort == "high"
    assert req.extra == {"frequencyPenalty": 0.1}


def test_decode_json_mime_without_schema_is_json_object() -> None:
    """responseMimeType application/json alone asks for any JSON object."""
    req = _decode({"contents": [_user()], "generationConfig": {"responseMimeType": "application/json"}})
    assert req.response_format == {"type": "json_object"}


def test_decode_dynamic_thinking_budget_carries_nothing() -> None:
    """thinkingBudget -1 (dynamic, Gemini's default) sets neither a budget nor disables thinking."""
    req = _decode({"contents": [_user()], "generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}})
    assert (req.thinking_budget, req.thinking_disabled) == (None, False)


def test_decode_other_fields_go_to_extra() -> None:
    """safetySettings, cachedContent, unknown keys and unknown generationConfig keys land in extra."""
    req = _decode(
        {
            "contents": [_user()],
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "cachedContent": "cachedContents/abc",
            "generationConfig": {
                "responseModalities": ["TEXT"],
                "newThing": 1,
                "responseMimeType": "text/x.enum",
            },
        }
    )
    assert req.extra == {
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/abc",
        "responseModalities": ["TEXT"],
        "generationConfig.newThing": 1,
        "responseMimeType": "text/x.enum",
    }
    assert req.response_format is None


# ---------------------------------------------------------------------------------------------
# decode_request: errors


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"parts": [{"text": ""}]}]}, "contents"),
        ({"contents": ["hi"]}, "contents[0]"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"role": "user"}]}, "contents[0].parts"),
        ({"contents": [{"parts": [{"videoMetadata": {}}]}]}, "contents[0].parts[0]"),
        ({"contents": [{"parts": [{"functionCall": {"args": {}}}]}]}, "contents[0].parts[0]"),
        (
            {"contents": [{"parts": [{"functionCall": {"name": "f", "args": "{}"}}]}]},
            "contents[0].parts[0].functionCall.args",
        ),
        (
            {"contents": [_user()], "generationConfig": {"maxOutputTokens": "9"}},
            "generationConfig.maxOutputTokens",
        ),
        ({"contents": [_user()], "generationConfig": {"temperature": True}}, "generationConfig.temperature"),
        (
            {"contents": [_user()], "generationConfig": {"stopSequences": [1]}},
            "generationConfig.stopSequences",
        ),
        ({"contents": [_user()], "generationConfig": []}, "generationConfig"),
        ({"contents": [_user()], "tools": {}}, "tools"),
        (
            {"contents": [_user()], "tools": [{"functionDeclarations": [{"description": "x"}]}]},
            "tools[0].functionDeclarations[0]",
        ),
        (
            {"contents": [_user()], "toolConfig": {"functionCallingConfig": {"mode": "SOME"}}},
            "toolConfig.functionCallingConfig.mode",
        ),
        (
            {"contents": [_user()], "systemInstruction": {"parts": [{"inlineData": {}}]}},
            "systemInstruction.parts[0]",
        ),
    ],
)
def test_decode_rejects_malformed_bodies(body: dict[str, Any], param: str) -> None:
    """Malformed input is a 400 that names the offending field."""
    with pytest.raises(InvalidRequestError) as info:
        _decode(body)
    assert info.value.status == 400
    assert info.value.param == param


def test_decode_rejects_non_object_body() -> None:
    """A body that is not a JSON object is a 400."""
    with pytest.raises(InvalidRequestError):
        decode_request([], "m", stream=False)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# encode_request


def _request(**kwargs: Any) -> ChatRequest:
    kwargs.setdefault("messages", [Message(role="user", content=[TextPart(text="hi")])])
    return ChatRequest(model="gemini-2.5-flash", **kwargs)


def test_encode_basic_fields_are_camel_case() -> None:
    """System, sampling and output settings go where Gemini expects them, in camelCase."""
    body = encode_request(
        _request(
            system=[TextPart(text="S", cache_control={"type": "ephemeral"})],
            max_tokens=100,
            temperature=0.5,
            top_p=0.9,
            top_k=20,
            stop=["END"],
            seed=3,
            n=2,
            response_format={"type": "json_object"},
            user="u-1",
        ),
        drop_params=False,
    )
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "S"}]},
        "generationConfig": {
            "maxOutputTokens": 100,
            "temperature": 0.5,
            "topP": 0.9,
            "topK": 20,
            "stopSequences": ["END"],
            "seed": 3,
            "candidateCount": 2,
            "responseMimeType": "application/json",
        },
    }


def test_encode_tool_history_names_results_and_keeps_signatures() -> None:
    """Results are named from the history; signatures stay on calls; ids and thinking are not sent."""
    body = encode_request(
        _request(
            messages=[
                Message(role="user", content=[TextPart(text="weather?")]),
                Message(
                    role="assistant",
                    content=[
                        ThinkingPart(text="let me think", signature="dGg="),
                        RedactedThinkingPart(data="xx"),
                        TextPart(text=""),
                        ToolCallPart(
                            id="toolu_1", name="get_weather", arguments={"city": "Oslo"}, signature="c2ln"
                        ),
                    ],
                ),
                Message(
                    role="user",
                    content=[
                        ToolResultPart(tool_call_id="toolu_1", content=[TextPart(text='{"temp_c": 4}')]),
                        ToolResultPart(tool_call_id="x", content=[TextPart(text="plain")], name="other"),
                        ToolResultPart(tool_call_id="toolu_1", content=[TextPart(text="bad")], is_error=True),
                    ],
                ),
                Message(role="assistant", content=[ThinkingPart(text="only thoughts")]),
            ]
        ),
        drop_params=False,
    )
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                    "thoughtSignature": "c2ln",
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 4}}},
                {"functionResponse": {"name": "other", "response": {"output": "plain"}}},
                {"functionResponse": {"name": "get_weather", "response": {"error": "bad"}}},
            ],
        },
    ]


def test_encode_tool_result_without_a_known_name_is_rejected() -> None:
    """A tool result whose call is not in the history cannot be named for Gemini: 400."""
    req = _request(messages=[Message(role="user", content=[ToolResultPart(tool_call_id="nope")])])
    with pytest.raises(InvalidRequestError) as info:
        encode_request(req, drop_params=True)
    assert "nope" in info.value.message


def test_encode_tool_result_media_become_sibling_parts() -> None:
    """Images in a tool result follow the functionResponse as their own parts."""
    req = _request(
        messages=[
            Message(
                role="user",
                content=[
                    ToolResultPart(
                        tool_call_id="c",
                        name="shot",
                        content=[TextPart(text="see"), ImagePart(media_type="image/png", data="AAAA")],
                    )
                ],
            )
        ]
    )
    assert encode_request(req, drop_params=False)["contents"][0]["parts"] == [
        {"functionResponse": {"name": "shot", "response": {"output": "see"}}},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
    ]


def test_encode_media_parts() -> None:
    """Inline data, data URLs and remote URLs map to inlineData or fileData with a MIME type."""
    req = _request(
        messages=[
            Message(
                role="user",
                content=[
                    ImagePart(data="iVBORw0KGgoAAA"),
                    ImagePart(url="data:image/gif;base64,R0lGODlh"),
                    ImagePart(url="https://example.com/cat.webp?size=2"),
                    ImagePart(url="https://example.com/cat", detail="high"),
                    DocumentPart(data="JVBERi0x", filename="a.pdf"),
                    DocumentPart(url="gs://bucket/notes.txt"),
                    DocumentPart(media_type="application/pdf"),
                ],
            )
        ]
    )
    assert encode_request(req, drop_params=False)["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgoAAA"}},
        {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlh"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
        {"fileData": {"mimeType": "text/plain", "fileUri": "gs://bucket/notes.txt"}},
    ]


def test_encode_tools_use_parameters_json_schema() -> None:
    """Function declarations carry full JSON schema in parametersJsonSchema, unstripped."""
    schema = {"type": "object", "properties": {"n": {"const": 1, "$ref": "#/$defs/x"}}, "$defs": {"x": {}}}
    body = encode_request(
        _request(tools=[Tool(name="f", description="F", parameters=schema), Tool(name="g")]),
        drop_params=False,
    )
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f", "description": "F", "parametersJsonSchema": schema},
                {"name": "g", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ]
        }
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (ToolChoice(mode="auto"), {"mode": "AUTO"}),
        (ToolChoice(mode="any", parallel=False), {"mode": "ANY"}),
        (ToolChoice(mode="none"), {"mode": "NONE"}),
        (ToolChoice(mode="tool", name="f"), {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_encode_tool_choice(choice: ToolChoice, config: dict[str, Any]) -> None:
    """Tool choices map to functionCallingConfig; parallel=False is dropped silently."""
    body = encode_request(_request(tools=[Tool(name="f")], tool_choice=choice), drop_params=False)
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_encode_tool_choice_without_tools_is_omitted() -> None:
    """A tool choice with no tools has nothing to constrain and is not sent."""
    body = encode_request(_request(tool_choice=ToolChoice(mode="none")), drop_params=False)
    assert "toolConfig" not in body


@pytest.mark.parametrize(
    ("kwargs", "thinking"),
    [
        ({"reasoning_effort": "low"}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"reasoning_effort": "medium"}, {"thinkingBudget": 2048, "includeThoughts": True}),
        ({"reasoning_effort": "HIGH"}, {"thinkingBudget": 4096, "includeThoughts": True}),
        ({"reasoning_effort": "none"}, {"thinkingBudget": 0}),
        (
            {"thinking_budget": 300, "reasoning_effort": "high"},
            {"thinkingBudget": 300, "includeThoughts": True},
        ),
        ({"thinking_disabled": True, "thinking_budget": 300}, {"thinkingBudget": 0}),
    ],
)
def test_encode_thinking(kwargs: dict[str, Any], thinking: dict[str, Any]) -> None:
    """Effort names become budgets; an explicit budget wins; disabled thinking is a zero budget."""
    body = encode_request(_request(**kwargs), drop_params=False)
    assert body["generationConfig"]["thinkingConfig"] == thinking


def test_encode_unknown_effort_is_rejected() -> None:
    """An effort name Gemini has no budget for is a 400 naming reasoning_effort."""
    with pytest.raises(InvalidRequestError) as info:
        encode_request(_request(reasoning_effort="max"), drop_params=False)
    assert info.value.param == "reasoning_effort"


def test_encode_json_schema_response_format_both_shapes() -> None:
    """json_schema (canonical or OpenAI-nested) becomes responseMimeType plus responseJsonSchema."""
    schema = {"type": "object"}
    for fmt in (
        {"type": "json_schema", "name": "r", "schema": schema},
        {"type": "json_schema", "json_schema": {"name": "r", "schema": schema, "strict": True}},
    ):
        gc = encode_request(_request(response_format=fmt), drop_params=False)["generationConfig"]
        assert gc == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    assert "generationConfig" not in encode_request(
        _request(response_format={"type": "text"}), drop_params=False
    )


def test_encode_unknown_response_format_is_rejected() -> None:
    """A response_format type Gemini cannot express is an unsupported parameter."""
    with pytest.raises(UnsupportedParameterError):
        encode_request(_request(response_format={"type": "grammar"}), drop_params=True)


def test_encode_gemini_extras_are_put_back_in_place() -> None:
    """Extras decoded from a Gemini body return to the top level, generationConfig, tools or toolConfig."""
    body = encode_request(
        _request(
            tools=[Tool(name="f")],
            extra={
                "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
                "cachedContent": "cachedContents/1",
                "presencePenalty": 0.5,
                "generationConfig.newThing": 1,
                "googleSearch": {},
                "retrievalConfig": {"languageCode": "en"},
                "frequency_penalty": 0.2,
            },
        ),
        drop_params=False,
    )
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert body["cachedContent"] == "cachedContents/1"
    assert body["generationConfig"] == {"presencePenalty": 0.5, "newThing": 1, "frequencyPenalty": 0.2}
    assert body["tools"][1] == {"googleSearch": {}}
    assert body["toolConfig"] == {"retrievalConfig": {"languageCode": "en"}}


def test_encode_attribution_fields_are_dropped_silently() -> None:
    """Fields that only attribute or store a call are dropped even without drop_params."""
    body = encode_request(
        _request(user="u", extra={"metadata": {"a": "b"}, "store": True, "service_tier": "auto"}),
        drop_params=False,
    )
    assert set(body) == {"contents"}


def test_encode_unsupported_sampling_param_is_refused() -> None:
    """A real sampling parameter Gemini lacks is refused with the documented message."""
    with pytest.raises(UnsupportedParameterError) as info:
        encode_request(_request(extra={"logit_bias": {"1": 2}}), drop_params=False)
    assert info.value.message == (
        "Parameter 'logit_bias' is not supported by Gemini; "
        "remove it or set litellm_settings.drop_params: true"
    )
    assert info.value.param == "logit_bias"


def test_encode_unsupported_param_is_dropped_with_drop_params() -> None:
    """With drop_params the unsupported parameter is left out."""
    body = encode_request(_request(extra={"logit_bias": {"1": 2}}), drop_params=True)
    assert body == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


# ---------------------------------------------------------------------------------------------
# less common shapes


def test_decode_function_response_non_object_bodies() -> None:
    """A string response is the text itself; other JSON values are dumped; nested fileData is kept."""
    req = _decode(
        {
            "contents": [
                {
                    "parts": [
                        {"functionResponse": {"name": "a", "response": "plain"}},
                        {"functionResponse": {"name": "b", "response": [1, 2]}},
                        {
                            "functionResponse": {
                                "name": "c",
                                "parts": [
                                    {"fileData": {"mimeType": "image/png", "fileUri": "gs://x.png"}},
                                    "junk",
                                ],
                            }
                        },
                    ]
                }
            ]
        }
    )
    a, b, c = req.messages[0].content
    assert isinstance(a, ToolResultPart)
    assert a.content == [TextPart(text="plain")]
    assert isinstance(b, ToolResultPart)
    assert b.content == [TextPart(text="[1,2]")]
    assert isinstance(c, ToolResultPart)
    assert c.content == [ImagePart(media_type="image/png", url="gs://x.png")]


def test_decode_bare_content_and_integral_floats() -> None:
    """A single Content without the list is accepted; 5.0 is a valid integer."""
    req = _decode({"contents": _user("x"), "generationConfig": {"maxOutputTokens": 5.0}})
    assert req.messages == [Message(role="user", content=[TextPart(text="x")])]
    assert req.max_tokens == 5


def test_decode_enum_output_and_tool_config_extras() -> None:
    """Non-JSON output MIME types keep their schema as Gemini extras; retrievalConfig is kept too."""
    req = _decode(
        {
            "contents": [_user()],
            "toolConfig": {"retrievalConfig": {"languageCode": "en"}},
            "generationConfig": {
                "responseMimeType": "text/x.enum",
                "responseSchema": {"type": "STRING", "enum": ["a"]},
                "responseJsonSchema": {"enum": ["a"]},
            },
        }
    )
    assert req.tool_choice is None
    assert req.extra == {
        "retrievalConfig": {"languageCode": "en"},
        "responseMimeType": "text/x.enum",
        "responseSchema": {"type": "STRING", "enum": ["a"]},
        "generationConfig.responseJsonSchema": {"enum": ["a"]},
    }
    body = encode_request(req, drop_params=False)
    assert body["generationConfig"] == {
        "responseMimeType": "text/x.enum",
        "responseSchema": {"type": "STRING", "enum": ["a"]},
        "responseJsonSchema": {"enum": ["a"]},
    }


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"thinkingConfig": {"thinkingLevel": 2}}, "generationConfig.thinkingConfig.thinkingLevel"),
        ({"maxOutputTokens": 5.5}, "generationConfig.maxOutputTokens"),
        ({"thinkingConfig": []}, "generationConfig.thinkingConfig"),
    ],
)
def test_decode_rejects_bad_thinking_and_token_values(config: dict[str, Any], param: str) -> None:
    """Wrongly typed thinking settings and fractional token counts are 400s naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        _decode({"contents": [_user()], "generationConfig": config})
    assert info.value.param == param


def test_encode_tool_result_text_that_only_looks_like_json() -> None:
    """Text starting with a brace that is not a JSON object is sent as output text."""
    req = _request(
        messages=[
            Message(
                role="user",
                content=[
                    ToolResultPart(tool_call_id="c", name="f", content=[TextPart(text="{oops")]),
                    ToolResultPart(tool_call_id="d", name="f", content=[TextPart(text="[1]")]),
                ],
            )
        ]
    )
    assert encode_request(req, drop_params=False)["contents"][0]["parts"] == [
        {"functionResponse": {"name": "f", "response": {"output": "{oops"}}},
        {"functionResponse": {"name": "f", "response": {"output": "[1]"}}},
    ]


def test_encode_data_url_without_mime_sniffs_the_data() -> None:
    """A data URL with no MIME type and no canonical one takes it from the data's first bytes."""
    req = _request(messages=[Message(role="user", content=[ImagePart(url="data:;base64,/9j/4AAQ")])])
    assert encode_request(req, drop_params=False)["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}
    ]
