"""Canonical request -> Anthropic ``/v1/messages`` body, for an Anthropic upstream.

Used when the client spoke OpenAI or Gemini. What Anthropic cannot express (``seed``, ``n > 1``,
``json_object`` output, foreign fields in ``extra``) is refused with an
:class:`UnsupportedParameterError` naming each field, or dropped when ``drop_params`` is on.

Mapping choices:

* ``max_tokens`` is required: the request's, else ``default_max_tokens`` (LiteLLM's 4096).
* ``temperature`` is clamped to 1.0 (OpenAI allows up to 2).
* ``reasoning_effort`` becomes ``thinking.budget_tokens`` with LiteLLM's budgets; an explicit
  ``thinking_budget`` wins over the effort. ``max_tokens`` is raised above the budget when needed
  (to budget + max_tokens, so the visible answer keeps the room the client asked for).
* With thinking on and ``drop_params``, the sampling settings thinking forbids are dropped.
* ``tool_choice`` is left out when there are no tools at all.
* In a user turn, tool results are moved to the front (Anthropic requires it); unsigned thinking
  is left out; a turn left empty by that is skipped.
* ``extra`` keys that are Anthropic fields (kept by :func:`decode_request`) go back in the body.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.anthropic._blocks import encode_part, encode_text
from bastion.protocols.canonical import ChatRequest, Message, ToolChoice, ToolResultPart

__all__ = ["THINKING_BUDGETS", "encode_request"]

#: ``reasoning_effort`` -> ``thinking.budget_tokens`` (LiteLLM's numbers; 1024 is Anthropic's floor).
THINKING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
    "max": 16384,
}
_MIN_BUDGET = 1024

#: Anthropic body fields that ``decode_request`` leaves in ``extra``; they go back as they came.
_PASSTHROUGH = frozenset({"container", "context_management", "inference_geo", "mcp_servers", "cache_control"})
#: Foreign fields with no effect on an Anthropic call (it always reports usage).
_HARMLESS = frozenset({"stream_options"})


def encode_request(
    req: ChatRequest, model: str, *, drop_params: bool, default_max_tokens: int = 4096
) -> dict[str, Any]:
    """The Anthropic body for ``req`` sent to upstream ``model``."""
    unsupported: list[str] = []
    body: dict[str, Any] = {"model": model}
    max_tokens = req.max_tokens or default_max_tokens
    body["max_tokens"] = max_tokens
    system = [encode_text(p) for p in req.system if p.text]
    if system:
        body["system"] = system
    body["messages"] = _encode_messages(req.messages)

    tools: list[dict[str, Any]] = [_encode_tool(t.name, t.description, t.parameters) for t in req.tools]
    for key, value in req.extra.items():
        if key == "server_tools" and isinstance(value, list):
            tools.extend(value)
        elif key in _PASSTHROUGH or (key == "service_tier" and value in ("auto", "standard_only")):
            body[key] = value
        elif key not in _HARMLESS and key not in ("output_config", "thinking"):
            unsupported.append(key)
    if tools:
        body["tools"] = tools
        if req.tool_choice is not None:
            body["tool_choice"] = _encode_tool_choice(req.tool_choice)

    if req.temperature is not None:
        body["temperature"] = min(req.temperature, 1.0)
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.seed is not None:
        unsupported.append("seed")
    if req.n is not None and req.n > 1:
        unsupported.append("n")

    output_config: dict[str, Any] = dict(req.extra.get("output_config") or {})
    if req.response_format is not None:
        fmt = _encode_response_format(req.response_format)
        if fmt is False:
            unsupported.append("response_format")
        elif fmt is not None:
            output_config["format"] = fmt
    if output_config:
        body["output_config"] = output_config

    thinking = _encode_thinking(req)
    if thinking is not None:
        body["thinking"] = thinking
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int):
            if max_tokens <= budget:
                body["max_tokens"] = budget + max_tokens
            if drop_params:
                _drop_sampling_thinking_forbids(body)
    if req.stream:
        body["stream"] = True

    if unsupported and not drop_params:
        raise _unsupported(unsupported)
    return body


def _unsupported(names: list[str]) -> UnsupportedParameterError:
    quoted = ", ".join(f"'{n}'" for n in names)
    if len(names) == 1:
        message = f"Parameter {quoted} is not supported by Anthropic; remove it"
    else:
        message = f"Parameters {quoted} are not supported by Anthropic; remove them"
    return UnsupportedParameterError(message + " or set litellm_settings.drop_params: true", param=names[0])


def _encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last = len(messages) - 1
    for i, message in enumerate(messages):
        parts = message.content
        if message.role == "user" and any(isinstance(p, ToolResultPart) for p in parts):
            parts = sorted(parts, key=lambda p: not isinstance(p, ToolResultPart))
        blocks = [b for b in (encode_part(p) for p in parts) if b is not None]
        if len(blocks) > 1:
            # OpenAI clients send "" next to tool calls; Anthropic rejects empty text blocks.
            blocks = [b for b in blocks if b.get("type") != "text" or b["text"] or "cache_control" in b]
        if not blocks and parts and not (i == last and message.role == "assistant"):
            continue  # only unsigned thinking was here: the turn has nothing Anthropic may see
        out.append({"role": message.role, "content": blocks})
    return out


def _encode_tool(name: str, description: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
    schema = parameters if parameters.get("type") == "object" else {**parameters, "type": "object"}
    tool: dict[str, Any] = {"name": name}
    if description:
        tool["description"] = description
    tool["input_schema"] = schema
    return tool


def _encode_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"type": choice.mode}
    if choice.mode == "tool":
        if not choice.name:
            raise InvalidRequestError("tool_choice names no tool", param="tool_choice")
        out["name"] = choice.name
    if choice.parallel is not None and choice.mode != "none":
        out["disable_parallel_tool_use"] = not choice.parallel
    return out


def _encode_response_format(fmt: dict[str, Any]) -> dict[str, Any] | bool | None:
    """``output_config.format``; ``None`` for plain text; ``False`` when Anthropic cannot express it."""
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_schema":
        schema = fmt.get("schema")
        if schema is None and isinstance(fmt.get("json_schema"), dict):
            schema = fmt["json_schema"].get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError("response_format json_schema needs a schema", param="response_format")
        return {"type": "json_schema", "schema": schema}
    return False


def _encode_thinking(req: ChatRequest) -> dict[str, Any] | None:
    if req.thinking_disabled:
        return {"type": "disabled"}
    budget = req.thinking_budget
    if budget is None and req.reasoning_effort is not None:
        effort = req.reasoning_effort
        if effort == "none":
            return None
        if effort not in THINKING_BUDGETS:
            raise InvalidRequestError(
                f"reasoning_effort {effort!r} is not one of {', '.join(THINKING_BUDGETS)}, none",
                param="reasoning_effort",
            )
        budget = THINKING_BUDGETS[effort]
    if budget is None:
        extra = req.extra.get("thinking")
        return extra if isinstance(extra, dict) else None
    if budget == 0:
        return {"type": "disabled"}
    if budget < 0:  # Gemini's "dynamic"
        budget = THINKING_BUDGETS["medium"]
    return {"type": "enabled", "budget_tokens": max(budget, _MIN_BUDGET)}


def _drop_sampling_thinking_forbids(body: dict[str, Any]) -> None:
    """Thinking allows no temperature but 1, no top_k, and top_p only from 0.95."""
    if body.get("temperature", 1.0) != 1.0:
        del body["temperature"]
    body.pop("top_k", None)
    if body.get("top_p", 1.0) < 0.95:
        del body["top_p"]
