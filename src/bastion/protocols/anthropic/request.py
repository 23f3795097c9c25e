"""Anthropic ``/v1/messages`` request bodies <-> :class:`ChatRequest`.

:func:`decode_request` reads a client's body; :func:`encode_request` (in ``_encode_request``, named
here) writes the body for an Anthropic upstream when the client spoke another protocol.

Decoding choices:

* Consecutive same-role turns are kept as they are (the API merges them itself).
* ``system``-role turns inside ``messages`` (Claude Code sends its environment block as one) are
  folded into the system prompt, after ``system`` and in the order they come; a pass-through group
  never decodes the body, so an Anthropic upstream gets them as sent.
* Validation errors read like Anthropic's own: ``<dotted path>: <what is wrong>``, with pydantic's
  phrases (``messages.1.role: Input should be 'user' or 'assistant'``, ``max_tokens: Field
  required``), the path doubling as ``param``. Clients such as Claude Code recognise that wording
  and fall back (for instance, resending without the turns they added).
* Client tools (with ``input_schema``) become :class:`Tool`; server tools (a ``type`` such as
  ``web_search_20250305`` and no ``input_schema``) are kept whole in ``extra["server_tools"]``: an
  Anthropic upstream gets them back, other protocols treat them as an unsupported parameter.
* ``thinking`` ``enabled`` gives ``thinking_budget``; ``adaptive`` gives ``reasoning_effort`` from
  ``output_config.effort`` (``"medium"`` when absent); ``disabled`` sets ``thinking_disabled``.
  An unknown thinking type is kept in ``extra["thinking"]``.
* ``output_config.format`` (``json_schema``) becomes ``response_format`` named ``"output"``;
  other ``output_config`` keys stay in ``extra["output_config"]``.
* A tool result gets the tool's ``name`` from the matching ``tool_use`` earlier in the
  conversation (Gemini needs it).
* ``context_management`` is left out (an Anthropic upstream gets it on pass-through; others cannot
  edit context and need not).
* Every other top-level field goes to ``extra``.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.anthropic._blocks import decode_content, invalid
from bastion.protocols.anthropic._encode_request import encode_request
from bastion.protocols.canonical import (
    ChatRequest,
    Message,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

__all__ = ["decode_request", "encode_request"]

_CONSUMED = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "output_config",
        # Server-side context editing, a request to trim the context: only Anthropic's API does it,
        # and an upstream that cannot simply keeps the whole context. Claude Code sends it on every
        # call, so refusing it would shut Claude Code out of every other provider's groups.
        # (Pass-through groups never decode the body: an Anthropic upstream still gets it.)
        "context_management",
    }
)


_REQUIRED = "Field required"
_INTEGER = "Input should be a valid integer"
_OBJECT = "Input should be a valid dictionary"
_STRING = "Input should be a valid string"
_LIST = "Input should be a valid list"


def _invalid(message: str, param: str) -> InvalidRequestError:
    return invalid(param, message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """A client's ``/v1/messages`` body in canonical form; raises InvalidRequestError naming the field."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid(_REQUIRED if model is None else "Input should be a non-empty string", "model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _invalid(_REQUIRED, "max_tokens")
    if not _is_int(max_tokens):
        raise _invalid(_INTEGER, "max_tokens")
    if max_tokens < 1:
        raise _invalid("Input should be greater than or equal to 1", "max_tokens")

    extra: dict[str, Any] = {k: v for k, v in body.items() if k not in _CONSUMED}
    system = _decode_system(body.get("system"))
    req = ChatRequest(
        model=model,
        messages=_decode_messages(body.get("messages"), system),
        system=system,
        max_tokens=max_tokens,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_int(body, "top_k"),
        stop=_decode_stop(body.get("stop_sequences")),
        stream=body.get("stream") is True,
        user=_decode_user(body.get("metadata")),
        extra=extra,
    )
    req.tools = _decode_tools(body.get("tools"), extra)
    req.tool_choice = _decode_tool_choice(body.get("tool_choice"))
    _decode_thinking(body.get("thinking"), body.get("output_config"), req)
    return req


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise _invalid("Input should be a valid number", key)
    return float(value)


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not _is_int(value):
        raise _invalid(_INTEGER, key)
    return int(value)


def _decode_messages(messages: Any, system: list[TextPart]) -> list[Message]:
    """The conversation; ``system``-role turns are appended to ``system`` instead, in order."""
    if messages is None:
        raise _invalid(_REQUIRED, "messages")
    if not isinstance(messages, list):
        raise _invalid(_LIST, "messages")
    out: list[Message] = []
    tool_names: dict[str, str] = {}
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        if not isinstance(message, dict):
            raise _invalid(_OBJECT, path)
        role = message.get("role")
        if role == "system":
            system.extend(_decode_system_turn(message.get("content"), f"{path}.content"))
            continue
        if role != "user" and role != "assistant":
            raise _invalid(
                _REQUIRED if role is None else "Input should be 'user' or 'assistant'", f"{path}.role"
            )
        content = decode_content(message.get("content"), f"{path}.content")
        for part in content:
            if isinstance(part, ToolCallPart):
                tool_names[part.id] = part.name
            elif isinstance(part, ToolResultPart):
                part.name = tool_names.get(part.tool_call_id)
        out.append(Message(role, content))
    return out


def _decode_system_turn(content: Any, path: str) -> list[TextPart]:
    parts: list[TextPart] = []
    for i, part in enumerate(decode_content(content, path)):
        if not isinstance(part, TextPart):
            raise _invalid("A system turn may hold only text blocks", f"{path}.{i}.type")
        if part.text:
            parts.append(part)
    return parts


def _decode_system(system: Any) -> list[TextPart]:
    if system is None:
        return []
    if isinstance(system, str):
        return [TextPart(system)] if system else []
    if not isinstance(system, list):
        raise _invalid("Input should be a valid string or a list of text blocks", "system")
    parts: list[TextPart] = []
    for i, block in enumerate(system):
        text = block.get("text") if isinstance(block, dict) else None
        if not isinstance(text, str) or block.get("type") != "text":
            raise _invalid("Input should be a text block with a string 'text'", f"system.{i}")
        parts.append(TextPart(text, block.get("cache_control")))
    return parts


def _decode_stop(stop: Any) -> list[str]:
    if stop is None:
        return []
    if not isinstance(stop, list):
        raise _invalid(_LIST, "stop_sequences")
    for i, value in enumerate(stop):
        if not isinstance(value, str):
            raise _invalid(_STRING, f"stop_sequences.{i}")
    return list(stop)


def _decode_user(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _invalid(_OBJECT, "metadata")
    user = metadata.get("user_id")
    if user is not None and not isinstance(user, str):
        raise _invalid(_STRING, "metadata.user_id")
    return user


def _decode_tools(tools: Any, extra: dict[str, Any]) -> list[Tool]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _invalid(_LIST, "tools")
    out: list[Tool] = []
    server_tools: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        path = f"tools.{i}"
        if not isinstance(tool, dict):
            raise _invalid(_OBJECT, path)
        kind = tool.get("type")
        schema = tool.get("input_schema")
        if schema is None and kind not in (None, "custom"):
            server_tools.append(tool)
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(
                _REQUIRED if name is None else "Input should be a non-empty string", f"{path}.name"
            )
        if schema is None:
            raise _invalid(_REQUIRED, f"{path}.input_schema")
        if not isinstance(schema, dict):
            raise _invalid(_OBJECT, f"{path}.input_schema")
        description = tool.get("description")
        out.append(Tool(name, description if isinstance(description, str) else None, schema))
    if server_tools:
        extra["server_tools"] = server_tools
    return out


def _decode_tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None:
        return None
    if not isinstance(choice, dict):
        raise _invalid("Input should be an object such as {'type': 'auto'}", "tool_choice")
    mode = choice.get("type")
    disable = choice.get("disable_parallel_tool_use")
    parallel = None if disable is None else not disable
    if mode == "auto" or mode == "any" or mode == "none":
        return ToolChoice(mode, parallel=parallel)
    if mode == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(f"{_REQUIRED} when tool_choice.type is 'tool'", "tool_choice.name")
        return ToolChoice("tool", name=name, parallel=parallel)
    raise _invalid("Input should be 'auto', 'any', 'tool' or 'none'", "tool_choice.type")


def _decode_thinking(thinking: Any, output_config: Any, req: ChatRequest) -> None:
    effort: str | None = None
    if output_config is not None:
        if not isinstance(output_config, dict):
            raise _invalid(_OBJECT, "output_config")
        rest = dict(output_config)
        value = rest.pop("effort", None)
        if value is not None and not isinstance(value, str):
            raise _invalid(_STRING, "output_config.effort")
        effort = value
        fmt = rest.pop("format", None)
        if fmt is not None:
            if (
                not isinstance(fmt, dict)
                or fmt.get("type") != "json_schema"
                or not isinstance(fmt.get("schema"), dict)
            ):
                raise _invalid(
                    "Input should be {'type': 'json_schema', 'schema': {...}}",
                    "output_config.format",
                )
            req.response_format = {"type": "json_schema", "name": "output", "schema": fmt["schema"]}
        if rest:
            req.extra["output_config"] = rest
    req.reasoning_effort = effort
    if thinking is None:
        return
    if not isinstance(thinking, dict):
        raise _invalid("Input should be an object such as {'type': 'enabled', ...}", "thinking")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not _is_int(budget):
            raise _invalid(
                _REQUIRED if budget is None else _INTEGER,
                "thinking.budget_tokens",
            )
        req.thinking_budget = budget
    elif kind == "adaptive":
        req.reasoning_effort = effort or "medium"
    elif kind == "disabled":
        req.thinking_disabled = True
    else:
        req.extra["thinking"] = thinking
