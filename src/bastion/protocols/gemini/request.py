"""generateContent request bodies to and from the canonical :class:`ChatRequest`.

:func:`decode_request` reads what a Gemini client sent (camelCase or snake_case); the model comes
from the URL path. :func:`encode_request` writes the body for a Gemini upstream. Normalisations a
round trip shows:

* function calls without an id get ``call_<n>``; responses without one are paired with calls by
  name; ids are never sent upstream (the API rejects ``id`` on calls and responses);
* thinking text and redacted thinking are not sent back (Gemini takes only the signatures, which
  stay on the calls); ``cache_control`` and a schema's ``name`` are dropped;
* ``reasoning_effort`` becomes a ``thinkingBudget``; a tool choice is sent only with tools.
"""

from __future__ import annotations

from typing import Any, Literal

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.canonical import (
    ChatRequest,
    Message,
    Role,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.gemini._casing import expect_dict, expect_list, expect_str, pick, to_camel
from bastion.protocols.gemini._content import CallIds, decode_parts, encode_part
from bastion.protocols.gemini._generation import (
    GENERATION_EXTRAS,
    PREFIX,
    apply_generation_config,
    encode_generation_config,
)
from bastion.protocols.gemini._schema import to_json_schema

__all__ = ["decode_request", "encode_request", "model_path"]

_ROLES: dict[str, Role] = {"user": "user", "model": "assistant", "function": "user", "tool": "user"}
_HANDLED = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model", "stream"}
)
#: Top-level Gemini fields with no canonical meaning, kept in ``extra`` under these names.
_TOP_LEVEL_EXTRAS = frozenset({"safetySettings", "cachedContent", "labels", "serviceTier"})
#: Non-function tools (server-side tools), kept in ``extra`` by kind.
_TOOL_KINDS = frozenset(
    {
        "googleSearch",
        "googleSearchRetrieval",
        "codeExecution",
        "urlContext",
        "fileSearch",
        "googleMaps",
        "computerUse",
        "enterpriseWebSearch",
        "retrieval",
    }
)
_TOOL_CONFIG_EXTRAS = frozenset({"retrievalConfig", "includeServerSideToolInvocations"})
_MODES: dict[str, Literal["auto", "any", "none"]] = {
    "AUTO": "auto",
    "VALIDATED": "auto",
    "ANY": "any",
    "NONE": "none",
}

#: Other protocols' fields that only attribute or store a call: nothing to send, nothing lost.
_SILENT = frozenset(
    {
        "user",
        "metadata",
        "store",
        "service_tier",
        "stream_options",
        "parallel_tool_calls",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
    }
)
#: Other protocols' sampling fields that Gemini has under another name.
_RENAMED = {"presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}


def model_path(model: str, *, stream: bool) -> str:
    """The upstream path for ``model`` (a bare id or ``models/<id>``)."""
    if stream:
        return model_action_path(model, "streamGenerateContent") + "?alt=sse"
    return model_action_path(model, "generateContent")


def model_action_path(model: str, action: str) -> str:
    """``/v1beta/models/<id>:<action>`` (``generateContent``, ``countTokens``...)."""
    if model.startswith("models/"):
        model = model[len("models/") :]
    return f"/v1beta/models/{model}:{action}"


def decode_request(body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
    """A client's generateContent body as a canonical request; malformed input is a 400."""
    body = expect_dict(body, "body")
    req = ChatRequest(model=model, messages=_decode_contents(body), stream=stream)
    system = pick(body, "systemInstruction", "system_instruction")
    if system is not None:
        req.system = _decode_system(system)
    tools = body.get("tools")
    if tools is not None:
        req.tools = _decode_tools(tools, req.extra)
    tool_config = pick(body, "toolConfig", "tool_config")
    if tool_config is not None:
        req.tool_choice = _decode_tool_config(expect_dict(tool_config, "toolConfig"), req.extra)
    config = pick(body, "generationConfig", "generation_config")
    if config is not None:
        apply_generation_config(config, req)
    for key, value in body.items():
        name = to_camel(key)
        if name not in _HANDLED:
            req.extra[name] = value
    return req


def _decode_contents(body: dict[str, Any]) -> list[Message]:
    contents = body.get("contents")
    if contents is None:
        raise InvalidRequestError("'contents' is required: the conversation to continue.", param="contents")
    if isinstance(contents, dict):  # one Content given bare
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise InvalidRequestError("'contents' must be a non-empty array of Content.", param="contents")
    ids = CallIds(deterministic=True)
    messages: list[Message] = []
    previous: str | None = None
    for i, raw in enumerate(contents):
        content = expect_dict(raw, f"contents[{i}]")
        role_name = content.get("role") or "user"
        role = _ROLES.get(role_name) if isinstance(role_name, str) else None
        if role is None:
            raise InvalidRequestError(
                f"'contents[{i}].role' must be 'user' or 'model', not {role_name!r}.",
                param=f"contents[{i}].role",
            )
        if role == "assistant" and previous != "assistant":
            ids.new_model_turn()
        previous = role
        parts = expect_list(content.get("parts"), f"contents[{i}].parts")
        decoded = decode_parts(parts, ids, where=f"contents[{i}].parts")
        if decoded:
            messages.append(Message(role=role, content=decoded))
    if not messages:
        raise InvalidRequestError("'contents' holds no content: every part is empty.", param="contents")
    return messages


def _decode_system(system: Any) -> list[TextPart]:
    if isinstance(system, str):
        return [TextPart(text=system)] if system else []
    if isinstance(system, dict):
        parts = system.get("parts")
        if parts is None and "text" in system:  # one Part given bare
            parts = [system]
        parts = expect_list(parts, "systemInstruction.parts")
    else:
        parts = expect_list(system, "systemInstruction")
    out: list[TextPart] = []
    for j, part in enumerate(parts):
        param = f"systemInstruction.parts[{j}]"
        text = part if isinstance(part, str) else expect_dict(part, param).get("text")
        if not isinstance(text, str):
            raise InvalidRequestError(f"'{param}' must be a text part.", param=param)
        if text:
            out.append(TextPart(text=text))
    return out


def _decode_tools(tools: Any, extra: dict[str, Any]) -> list[Tool]:
    out: list[Tool] = []
    for i, raw in enumerate(expect_list(tools, "tools")):
        tool = expect_dict(raw, f"tools[{i}]")
        for key, value in tool.items():
            name = to_camel(key)
            if name == "functionDeclarations":
                for j, decl in enumerate(expect_list(value, f"tools[{i}].functionDeclarations")):
                    out.append(_decode_declaration(decl, f"tools[{i}].functionDeclarations[{j}]"))
            else:
                extra[name] = value
    return out


def _decode_declaration(raw: Any, param: str) -> Tool:
    decl = expect_dict(raw, param)
    name = decl.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"'{param}.name' must be a non-empty string.", param=param)
    description = decl.get("description")
    tool = Tool(
        name=name, description=expect_str(description, f"{param}.description") if description else None
    )
    schema = pick(decl, "parametersJsonSchema", "parameters_json_schema")
    if schema is None:
        schema = to_json_schema(decl.get("parameters"))
    if schema is not None:
        tool.parameters = expect_dict(schema, f"{param}.parameters")
    return tool


def _decode_tool_config(config: dict[str, Any], extra: dict[str, Any]) -> ToolChoice | None:
    choice: ToolChoice | None = None
    for key, value in config.items():
        name = to_camel(key)
        if name != "functionCallingConfig":
            extra[name] = value
            continue
        calling = expect_dict(value, "toolConfig.functionCallingConfig")
        mode = calling.get("mode") or "AUTO"
        canonical = _MODES.get(mode.upper()) if isinstance(mode, str) else None
        if canonical is None:
            raise InvalidRequestError(
                "'toolConfig.functionCallingConfig.mode' must be AUTO, ANY, NONE or VALIDATED, "
                f"not {mode!r}.",
                param="toolConfig.functionCallingConfig.mode",
            )
        allowed = pick(calling, "allowedFunctionNames", "allowed_function_names")
        if (
            canonical == "any"
            and isinstance(allowed, list)
            and len(allowed) == 1
            and isinstance(allowed[0], str)
        ):
            choice = ToolChoice(mode="tool", name=allowed[0])
        else:
            # Several allowed names cannot be expressed canonically: "any tool" is the nearest.
            choice = ToolChoice(mode=canonical)
    return choice


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_request(req: ChatRequest, *, drop_params: bool) -> dict[str, Any]:
    """The generateContent body for ``req``; a field Gemini cannot take is a 400 unless dropped."""
    body: dict[str, Any] = {"contents": _encode_contents(req.messages)}
    system = [{"text": part.text} for part in req.system if part.text]
    if system:
        body["systemInstruction"] = {"parts": system}
    tools: list[dict[str, Any]] = []
    if req.tools:
        tools.append({"functionDeclarations": [_encode_tool(tool) for tool in req.tools]})
    generation = encode_generation_config(req)
    tool_config: dict[str, Any] = {}
    if req.tools and req.tool_choice is not None:
        tool_config["functionCallingConfig"] = _encode_tool_choice(req.tool_choice)
    for key, value in req.extra.items():
        if key in _TOP_LEVEL_EXTRAS:
            body[key] = value
        elif key in GENERATION_EXTRAS:
            generation[key] = value
        elif key.startswith(PREFIX):
            generation[key[len(PREFIX) :]] = value
        elif key in _TOOL_KINDS:
            tools.append({key: value})
        elif key in _TOOL_CONFIG_EXTRAS:
            tool_config[key] = value
        elif key in _RENAMED:
            generation[_RENAMED[key]] = value
        elif key not in _SILENT and not drop_params:
            raise UnsupportedParameterError(
                f"Parameter '{key}' is not supported by Gemini; remove it or set "
                "litellm_settings.drop_params: true",
                param=key,
            )
    if tools:
        body["tools"] = tools
    if tool_config:
        body["toolConfig"] = tool_config
    if generation:
        body["generationConfig"] = generation
    return body


def _encode_contents(messages: list[Message]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}
    contents: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
            name = _result_name(part, names, i) if isinstance(part, ToolResultPart) else None
            encode_part(part, parts, response=False, name=name)
        if parts:  # a turn of only thinking has nothing Gemini takes back
            contents.append({"role": "model" if message.role == "assistant" else "user", "parts": parts})
    return contents


def _result_name(part: ToolResultPart, names: dict[str, str], index: int) -> str:
    name = part.name or names.get(part.tool_call_id)
    if not name:
        raise InvalidRequestError(
            f"The tool result for call '{part.tool_call_id}' in messages[{index}] matches no earlier tool "
            "call, and Gemini needs the function name: send the call in the history or name the tool.",
            param=f"messages[{index}]",
        )
    return name


def _encode_tool(tool: Tool) -> dict[str, Any]:
    # parametersJsonSchema takes full JSON schema, so nothing has to be stripped for Gemini.
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        decl["description"] = tool.description
    decl["parametersJsonSchema"] = tool.parameters
    return decl


def _encode_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    # parallel=False has no Gemini equivalent; it only limits how many calls come back.
    if choice.mode == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": choice.mode.upper()}
