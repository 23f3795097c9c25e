"""The Chat Completions ``messages`` array to and from canonical messages and system prompt.

OpenAI keeps system prompts and tool results as messages of their own; the canonical form hoists
the system prompt out and folds tool results into ``user`` messages (Anthropic's shape). These two
functions convert between the shapes, keeping the order of everything the other side can carry.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.body_fields import call_arguments
from bastion.protocols.canonical import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from bastion.protocols.openai._content import decode_part, decode_text_parts, encode_part, thinking_parts

_ROLES = "system, developer, user, assistant, tool"


def decode_messages(raw: list[Any]) -> tuple[list[TextPart], list[Message]]:
    """An OpenAI ``messages`` list -> ``(system, messages)``.

    Consecutive ``tool`` messages become one ``user`` message of :class:`ToolResultPart` blocks; a
    ``user`` message right after them joins that same message (after the results), which is how
    Anthropic wants a turn that answers tool calls and adds text.
    """
    system: list[TextPart] = []
    messages: list[Message] = []
    tool_names: dict[str, str] = {}
    legacy_ids: dict[str, str] = {}
    results: Message | None = None  # the user message collecting a run of tool results
    for i, msg in enumerate(raw):
        path = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise InvalidRequestError(f"'{path}' must be a message object.", param=path)
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(decode_text_parts(msg.get("content"), f"{path}.content", msg.get("cache_control")))
        elif role in ("tool", "function"):
            part = _decode_tool_result(msg, path, tool_names, legacy_ids)
            if results is None:
                results = Message("user", [])
                messages.append(results)
            results.content.append(part)
        elif role == "user":
            parts = _decode_user_content(msg.get("content"), f"{path}.content", msg.get("cache_control"))
            if results is not None:
                results.content.extend(parts)
            else:
                messages.append(Message("user", parts))
            results = None
        elif role == "assistant":
            messages.append(Message("assistant", _decode_assistant(msg, i, tool_names, legacy_ids)))
            results = None
        else:
            raise InvalidRequestError(
                f"'{path}.role' must be one of {_ROLES}; got {role!r}.", param=f"{path}.role"
            )
    return system, messages


def _decode_user_content(content: object, path: str, cache_control: object) -> list[ContentPart]:
    if isinstance(content, str):
        return [TextPart(content, cache_control if isinstance(cache_control, dict) else None)]
    if isinstance(content, list):
        return [decode_part(part, f"{path}[{i}]") for i, part in enumerate(content)]
    raise InvalidRequestError(f"'{path}' must be a string or a list of content parts.", param=path)


def _decode_tool_result(
    msg: dict[str, Any], path: str, tool_names: dict[str, str], legacy_ids: dict[str, str]
) -> ToolResultPart:
    name = msg.get("name")
    call_id: object
    if msg.get("role") == "function":  # legacy: results are matched by function name
        if not isinstance(name, str):
            raise InvalidRequestError(f"'{path}.name' must be a string.", param=f"{path}.name")
        call_id = legacy_ids.get(name, f"call_{name}")
    else:
        call_id = msg.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(
                f"'{path}.tool_call_id' is required in a tool message: the id of the tool call it answers.",
                param=f"{path}.tool_call_id",
            )
    content = msg.get("content")
    parts: list[ContentPart]
    if content is None or content == "":
        parts = []
    elif isinstance(content, str):
        parts = [TextPart(content)]
    else:
        parts = _decode_user_content(content, f"{path}.content", None)
    known = tool_names.get(call_id)
    return ToolResultPart(call_id, parts, name=known or (name if isinstance(name, str) else None))


def _decode_assistant(
    msg: dict[str, Any], i: int, tool_names: dict[str, str], legacy_ids: dict[str, str]
) -> list[ContentPart]:
    path = f"messages[{i}]"
    parts: list[ContentPart] = []
    blocks = msg.get("thinking_blocks")  # LiteLLM's extension: signed thinking sent back
    if isinstance(blocks, list):
        parts.extend(thinking_parts(blocks))
    content = msg.get("content")
    if isinstance(content, str):
        if content:
            parts.append(TextPart(content))
    elif isinstance(content, list):
        for j, raw in enumerate(content):
            part = decode_part(raw, f"{path}.content[{j}]")
            if not isinstance(part, TextPart):
                raise InvalidRequestError(
                    f"'{path}.content[{j}]' must be a text or refusal part in an assistant message.",
                    param=f"{path}.content[{j}]",
                )
            parts.append(part)
    elif content is not None:
        raise InvalidRequestError(
            f"'{path}.content' must be a string, a list of parts or null.", param=f"{path}.content"
        )
    refusal = msg.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(TextPart(refusal))
    calls = msg.get("tool_calls")
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            part = _decode_tool_call(call, f"{path}.tool_calls[{j}]")
            tool_names[part.id] = part.name
            parts.append(part)
    elif calls is not None:
        raise InvalidRequestError(f"'{path}.tool_calls' must be a list.", param=f"{path}.tool_calls")
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        part = _decode_function(legacy, f"call_legacy_{i}", f"{path}.function_call")
        legacy_ids[part.name] = part.id
        tool_names[part.id] = part.name
        parts.append(part)
    return parts


def _decode_tool_call(call: object, path: str) -> ToolCallPart:
    if not isinstance(call, dict):
        raise InvalidRequestError(f"'{path}' must be a tool call object.", param=path)
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"'{path}.id' must be a non-empty string.", param=f"{path}.id")
    return _decode_function(call.get("function"), call_id, f"{path}.function")


def _decode_function(function: object, call_id: str, path: str) -> ToolCallPart:
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequestError(f"'{path}' must be an object with a string 'name'.", param=path)
    arguments = call_arguments(function.get("arguments"), path, kind="tool-call")
    return ToolCallPart(call_id, function["name"], arguments)


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_messages(system: list[TextPart], messages: list[Message]) -> list[dict[str, Any]]:
    """Canonical system prompt and messages -> an OpenAI ``messages`` list.

    Thinking blocks are dropped (OpenAI cannot take them back), tool results become ``tool``
    messages in place, and ``cache_control`` markers are dropped.
    """
    out: list[dict[str, Any]] = []
    if len(system) == 1:
        out.append({"role": "system", "content": system[0].text})
    elif system:
        out.append({"role": "system", "content": [{"type": "text", "text": p.text} for p in system]})
    for msg in messages:
        if msg.role == "assistant":
            out.append(_encode_assistant(msg.content))
        else:
            _encode_user(msg.content, out)
    return out


def _encode_user(content: list[ContentPart], out: list[dict[str, Any]]) -> None:
    # Tool messages must directly follow the assistant's calls, so they go first. Media inside a
    # tool result cannot ride in a tool message: it moves to the user message that follows.
    carried: list[ContentPart] = []
    rest: list[ContentPart] = []
    had_results = False
    for part in content:
        if isinstance(part, ToolResultPart):
            out.append(_encode_tool_result(part, carried))
            had_results = True
        elif isinstance(part, TextPart | ImagePart | DocumentPart):
            rest.append(part)
    parts = carried + rest if carried else rest
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        out.append({"role": "user", "content": parts[0].text})
    elif parts:
        out.append({"role": "user", "content": [encode_part(p) for p in parts]})
    elif not had_results:
        out.append({"role": "user", "content": ""})


def _encode_tool_result(part: ToolResultPart, carried: list[ContentPart]) -> dict[str, Any]:
    texts: list[str] = []
    for inner in part.content:
        if isinstance(inner, TextPart):
            texts.append(inner.text)
        elif isinstance(inner, ImagePart | DocumentPart):
            carried.append(inner)
    # One text (or none) goes as a plain string: the form every OpenAI-compatible server takes.
    content: str | list[dict[str, str]] = "".join(texts)
    if len(texts) > 1:
        content = [{"type": "text", "text": t} for t in texts]
    return {"role": "tool", "tool_call_id": part.tool_call_id, "content": content}


def _encode_assistant(content: list[ContentPart]) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ToolCallPart):
            calls.append(
                {
                    "id": part.id,
                    "type": "function",
                    "function": {"name": part.name, "arguments": orjson.dumps(part.arguments).decode()},
                }
            )
        elif isinstance(part, ImagePart | DocumentPart):
            raise UnsupportedParameterError(
                "An assistant message with image or document content cannot be sent to an "
                "OpenAI-compatible provider."
            )
    text = "".join(texts)
    msg: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        msg["tool_calls"] = calls
    return msg
