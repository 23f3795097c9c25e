"""Responses API request bodies to the canonical :class:`ChatRequest`.

``input`` is a string (one user turn) or a list of items: messages of any role (``system`` and
``developer`` turns join the system prompt, after ``instructions``), ``function_call`` items
(assistant tool calls), ``function_call_output`` items (their results, keeping the ``call_id``) and
``reasoning`` items (signed thinking travels in ``encrypted_content``; so does the signature
Gemini puts on a function call, in a reasoning item of its own just before the call).
Consecutive assistant-side items make one assistant message and consecutive results one user
message, the canonical shape.

Custom (freeform) tools, such as Codex's ``apply_patch``, become function tools taking one string,
``input`` (their grammar, if any, goes into the description); their calls and outputs
(``custom_tool_call``, ``custom_tool_call_output``) are tool calls and results like any other.
Built-in tools (``web_search``, ``file_search``, ``computer_use_preview``...) only exist at OpenAI;
asked of another provider they are refused naming the tool. Fields the gateway handles itself
(``store``, ``previous_response_id``, ``metadata``) or that carry nothing to translate
(``include``, ``truncation``, ``service_tier``, ``prompt_cache_key``...) are not sent on.
"""

from __future__ import annotations

from typing import Any, Literal

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.body_fields import (
    call_arguments,
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
)
from bastion.protocols.canonical import (
    ChatRequest,
    ContentPart,
    Message,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.openai_responses.content import (
    decode_assistant_content,
    decode_content,
    decode_part,
    decode_text_content,
)

__all__ = ["CALL_SIGNATURE_PREFIX", "CUSTOM_INPUT", "REDACTED_PREFIX", "custom_tool_names", "decode_request"]

#: The one argument of the function a custom (freeform) tool becomes.
CUSTOM_INPUT = "input"

#: A reasoning item's ``encrypted_content`` that carries Anthropic's redacted thinking.
REDACTED_PREFIX = "bastion-redacted:"
#: A reasoning item's ``encrypted_content`` that carries the signature of the function call after it
#: (Gemini's ``thoughtSignature``, which Gemini 3 requires back with the call).
CALL_SIGNATURE_PREFIX = "bastion-call-signature:"

#: Fields mapped to canonical ones, handled by the gateway, or without meaning for a translation.
_KNOWN = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
        "max_output_tokens", "temperature", "top_p", "reasoning", "text", "metadata", "user",
        "safety_identifier", "stream", "stream_options", "store", "previous_response_id", "include",
        "truncation", "service_tier", "prompt_cache_key", "prompt_cache_retention", "top_logprobs",
        "max_tool_calls", "background", "client_metadata",
    }
)  # fmt: skip

#: Fields whose feature needs OpenAI's own servers.
_REFUSED = {
    "conversation": "the Conversations API",
    "prompt": "stored prompt templates",
}

_ChoiceMode = Literal["auto", "any", "none", "tool"]
_CHOICE_MODES: dict[str, _ChoiceMode] = {"auto": "auto", "required": "any", "none": "none"}


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """A client's Responses body -> :class:`ChatRequest`.

    Raises :class:`InvalidRequestError` (``param`` = the field path) when the body is malformed or
    asks for something only OpenAI itself can do.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' is required: the name of the model to use.", param="model")
    for name, what in _REFUSED.items():
        if body.get(name) is not None:
            raise InvalidRequestError(
                f"'{name}' ({what}) works only when the model's upstream is OpenAI itself; send the "
                "conversation as 'input' items or use 'previous_response_id'.",
                param=name,
            )
    if body.get("background") is True:
        raise InvalidRequestError(
            "'background': true is not supported by this gateway; stream the response instead.",
            param="background",
        )
    system: list[TextPart] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        if instructions:
            system.append(TextPart(instructions))
    elif instructions is not None:
        raise InvalidRequestError("'instructions' must be a string.", param="instructions")
    messages = _decode_input(body.get("input"), system)
    req = ChatRequest(model=model, messages=messages, system=system)
    req.max_tokens = optional_int(body, "max_output_tokens", positive=True)
    req.temperature = optional_number(body, "temperature")
    req.top_p = optional_number(body, "top_p")
    req.stream = optional_bool(body, "stream") or False
    user = optional_str(body, "user")
    req.user = user if user is not None else optional_str(body, "safety_identifier")
    req.tools = _decode_tools(body.get("tools"))
    req.tool_choice = _decode_tool_choice(body)
    req.response_format = _decode_text(body.get("text"))
    _decode_reasoning(body.get("reasoning"), req)
    for key, value in body.items():
        if key not in _KNOWN and key not in _REFUSED and value is not None:
            req.extra[key] = value
    return req


# ---------------------------------------------------------------------------------------------
# input


def _decode_input(raw: object, system: list[TextPart]) -> list[Message]:
    if isinstance(raw, str):
        return [Message("user", [TextPart(raw)])]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError(
            "'input' is required: a string, or a non-empty list of input items.", param="input"
        )
    messages: list[Message] = []
    names: dict[str, str] = {}
    signature: str | None = None  # for the next function call

    def turn(role: Literal["user", "assistant"]) -> Message:
        # Consecutive items of one side make one message; a user turn after tool results joins them.
        if messages and messages[-1].role == role:
            return messages[-1]
        message = Message(role, [])
        messages.append(message)
        return message

    for i, item in enumerate(raw):
        path = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequestError(f"'{path}' must be an input item object.", param=path)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            content = item.get("content")
            if role in ("system", "developer"):
                system.extend(decode_text_content(content, f"{path}.content"))
            elif role == "user":
                turn("user").content.extend(decode_content(content, f"{path}.content"))
            elif role == "assistant":
                turn("assistant").content.extend(decode_assistant_content(content, f"{path}.content"))
            else:
                raise InvalidRequestError(
                    f"'{path}.role' must be one of user, assistant, system, developer; got {role!r}.",
                    param=f"{path}.role",
                )
        elif kind == "function_call":
            call = _decode_call(item, path)
            call.signature, signature = signature, None
            names[call.id] = call.name
            turn("assistant").content.append(call)
        elif kind == "custom_tool_call":
            call = ToolCallPart(
                _required_call_id(item, path),
                _required_str(item, "name", path),
                {CUSTOM_INPUT: _text(item, "input", path)},
            )
            names[call.id] = call.name
            turn("assistant").content.append(call)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            result = _decode_result(item, path)
            result.name = names.get(result.tool_call_id)
            turn("user").content.append(result)
        elif kind == "reasoning":
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted.startswith(CALL_SIGNATURE_PREFIX):
                signature = encrypted[len(CALL_SIGNATURE_PREFIX) :]
                continue
            part = _decode_reasoning_item(item)
            if part is not None:
                turn("assistant").content.append(part)
        elif kind == "item_reference":
            raise InvalidRequestError(
                f"'{path}' references a stored item by id; this gateway cannot resolve item "
                "references. Send the item itself, or continue with 'previous_response_id'.",
                param=path,
            )
        else:
            raise InvalidRequestError(
                f"Input items of type {kind!r} ('{path}') come from OpenAI's built-in tools and cannot "
                "be sent to this model's provider.",
                param=f"{path}.type",
            )
    if not messages:
        raise InvalidRequestError(
            "'input' holds no user or assistant turn; add at least one user message.", param="input"
        )
    return messages


def _decode_call(item: dict[str, Any], path: str) -> ToolCallPart:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"'{path}.call_id' must be a non-empty string.", param=f"{path}.call_id")
    name = _required_str(item, "name", path)
    arguments = call_arguments(item.get("arguments"), path, kind="function call")
    return ToolCallPart(call_id, name, arguments)


def _required_call_id(item: dict[str, Any], path: str) -> str:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"'{path}.call_id' must be a non-empty string.", param=f"{path}.call_id")
    return call_id


def _text(item: dict[str, Any], key: str, path: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{path}.{key}' must be a string.", param=f"{path}.{key}")
    return value


def custom_tool_names(tools: object) -> frozenset[str]:
    """The names of the custom (freeform) tools among a request's ``tools``."""
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(
        str(tool["name"])
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == "custom" and isinstance(tool.get("name"), str)
    )


def _custom_tool(tool: dict[str, Any], name: str, path: str) -> Tool:
    description = tool.get("description")
    text = description if isinstance(description, str) else ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        definition = fmt.get("definition")
        if isinstance(definition, str) and definition:
            syntax = fmt.get("syntax") if isinstance(fmt.get("syntax"), str) else "grammar"
            text = f"{text}\n\nThe input must follow this {syntax} grammar:\n{definition}".strip()
    elif fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise InvalidRequestError(
            f'\'{path}.format\' must be {{"type": "text"}} or a grammar.', param=f"{path}.format"
        )
    parameters = {
        "type": "object",
        "properties": {
            CUSTOM_INPUT: {"type": "string", "description": "The tool's whole input, as free text."}
        },
        "required": [CUSTOM_INPUT],
    }
    return Tool(name, text or None, parameters)


def _decode_result(item: dict[str, Any], path: str) -> ToolResultPart:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(
            f"'{path}.call_id' is required: the call_id of the function call this output answers.",
            param=f"{path}.call_id",
        )
    output = item.get("output")
    parts: list[ContentPart]
    if output is None or output == "":
        parts = []
    elif isinstance(output, str):
        parts = [TextPart(output)]
    elif isinstance(output, list):
        parts = [decode_part(part, f"{path}.output[{j}]") for j, part in enumerate(output)]
    else:
        raise InvalidRequestError(
            f"'{path}.output' must be a string or a list of content parts.", param=f"{path}.output"
        )
    return ToolResultPart(call_id, parts)


def _decode_reasoning_item(item: dict[str, Any]) -> ContentPart | None:
    """Signed thinking comes back (its signature in ``encrypted_content``); a bare summary, which
    no provider can take back, is dropped."""
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted:
        return None
    if encrypted.startswith(REDACTED_PREFIX):
        return RedactedThinkingPart(encrypted[len(REDACTED_PREFIX) :])
    texts: list[str] = []
    for key in ("content", "summary"):
        blocks = item.get(key)
        if isinstance(blocks, list) and blocks:
            texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
            break
    return ThinkingPart("".join(texts), encrypted)


# ---------------------------------------------------------------------------------------------
# tools and options


def _decode_tools(raw: object) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequestError("'tools' must be a list of tools.", param="tools")
    tools: list[Tool] = []
    for i, tool in enumerate(raw):
        path = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequestError(f"'{path}' must be a tool object.", param=path)
        kind = tool.get("type", "function")
        if kind == "custom":
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidRequestError(f"'{path}.name' must be a non-empty string.", param=f"{path}.name")
            tools.append(_custom_tool(tool, name, path))
            continue
        if kind != "function":
            raise InvalidRequestError(
                f"The built-in tool {kind!r} ('{path}') works only when the model's upstream is OpenAI "
                "itself; this model group is served by another provider. Offer it as a 'function' "
                "tool instead.",
                param=f"{path}.type",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(f"'{path}.name' must be a non-empty string.", param=f"{path}.name")
        description = tool.get("description")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidRequestError(
                f"'{path}.parameters' must be a JSON schema object.", param=f"{path}.parameters"
            )
        tools.append(
            Tool(
                name,
                description if isinstance(description, str) else None,
                parameters if parameters is not None else {"type": "object", "properties": {}},
            )
        )
    return tools


def _decode_tool_choice(body: dict[str, Any]) -> ToolChoice | None:
    raw = body.get("tool_choice")
    choice: ToolChoice | None = None
    if isinstance(raw, str) and raw in _CHOICE_MODES:
        choice = ToolChoice(_CHOICE_MODES[raw])
    elif isinstance(raw, dict):
        kind = raw.get("type")
        if kind in ("function", "custom"):
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidRequestError(
                    "'tool_choice.name' must name the function to call.", param="tool_choice.name"
                )
            choice = ToolChoice("tool", name)
        elif kind == "allowed_tools":
            mode = raw.get("mode")
            choice = ToolChoice("any" if mode == "required" else "auto")
        else:
            raise InvalidRequestError(
                f"'tool_choice' of type {kind!r} names a built-in tool, which works only when the "
                "model's upstream is OpenAI itself; use 'auto', 'required', 'none' or a function.",
                param="tool_choice",
            )
    elif raw is not None:
        raise InvalidRequestError(
            "'tool_choice' must be 'auto', 'required', 'none' or {\"type\": \"function\", \"name\": ...}.",
            param="tool_choice",
        )
    parallel = optional_bool(body, "parallel_tool_calls")
    if parallel is not None:
        choice = choice or ToolChoice("auto")
        choice.parallel = parallel
    return choice


def _decode_text(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("'text' must be an object such as {\"format\": {...}}.", param="text")
    fmt = value.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequestError("'text.format' must be an object.", param="text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError(
                "'text.format.schema' must be a JSON schema object.", param="text.format.schema"
            )
        out: dict[str, Any] = {"type": "json_schema", "name": fmt.get("name") or "response", "schema": schema}
        if isinstance(fmt.get("strict"), bool):
            out["strict"] = fmt["strict"]
        if isinstance(fmt.get("description"), str):
            out["description"] = fmt["description"]
        return out
    raise InvalidRequestError(
        f"'text.format.type' must be 'text', 'json_object' or 'json_schema'; got {kind!r}.",
        param="text.format.type",
    )


def _decode_reasoning(value: object, req: ChatRequest) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidRequestError(
            '\'reasoning\' must be an object such as {"effort": "low"}.', param="reasoning"
        )
    effort = value.get("effort")
    if effort is None:
        return
    if not isinstance(effort, str):
        raise InvalidRequestError("'reasoning.effort' must be a string.", param="reasoning.effort")
    if effort == "none":
        req.thinking_disabled = True
    elif effort == "minimal":
        req.reasoning_effort = "low"  # the smallest budget every provider knows
    else:
        req.reasoning_effort = effort


def _required_str(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{path}.{key}' must be a string.", param=f"{path}.{key}")
    return value
