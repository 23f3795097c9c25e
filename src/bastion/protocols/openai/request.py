"""Chat Completions request bodies to and from the canonical :class:`ChatRequest`.

:func:`decode_request` reads what an OpenAI client sent (surface side, when the model is served by
another protocol); :func:`encode_request` writes the body for an OpenAI-compatible upstream when the
client spoke another protocol; :func:`with_stream_usage` prepares a pass-through body so the
gateway always learns the usage of a stream.
"""

from __future__ import annotations

from typing import Any, Literal

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.body_fields import (
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
)
from bastion.protocols.canonical import ChatRequest, Tool, ToolChoice
from bastion.protocols.openai._messages import decode_messages, encode_messages

__all__ = ["decode_request", "encode_request", "with_stream_usage"]

#: Fields decode_request maps to canonical fields, or drops on purpose (``stream_options``: the
#: gateway decides about usage chunks itself). Everything else lands in ``extra``.
_KNOWN = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
        "stop", "seed", "n", "user", "stream", "stream_options", "tools", "functions", "tool_choice",
        "function_call", "parallel_tool_calls", "response_format", "reasoning_effort", "thinking",
    }
)  # fmt: skip

#: Values that mean "the default": clients send them routinely, and they carry nothing to translate.
_NEUTRAL: dict[str, object] = {"presence_penalty": 0, "frequency_penalty": 0, "logprobs": False}

_ChoiceMode = Literal["auto", "any", "none", "tool"]
_CHOICE_MODES: dict[str, _ChoiceMode] = {"auto": "auto", "required": "any", "none": "none"}
_MODE_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def decode_request(body: dict[str, Any]) -> ChatRequest:
    """A client's Chat Completions body -> :class:`ChatRequest`.

    Raises :class:`InvalidRequestError` (``param`` = the field path) when the body is malformed.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' is required: the name of the model to use.", param="model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidRequestError("'messages' is required and must be a non-empty list.", param="messages")
    system, messages = decode_messages(raw_messages)
    req = ChatRequest(model=model, messages=messages, system=system)
    max_tokens = optional_int(body, "max_completion_tokens")
    req.max_tokens = max_tokens if max_tokens is not None else optional_int(body, "max_tokens")
    req.temperature = optional_number(body, "temperature")
    req.top_p = optional_number(body, "top_p")
    req.top_k = optional_int(body, "top_k")
    req.seed = optional_int(body, "seed")
    req.n = optional_int(body, "n")
    req.user = optional_str(body, "user")
    req.reasoning_effort = optional_str(body, "reasoning_effort")
    req.stream = optional_bool(body, "stream") or False
    req.stop = _decode_stop(body.get("stop"))
    req.tools = _decode_tools(body)
    req.tool_choice = _decode_tool_choice(body)
    req.response_format = _decode_response_format(body.get("response_format"))
    _decode_thinking(body.get("thinking"), req)
    for key, value in body.items():
        if key not in _KNOWN and value is not None and _NEUTRAL.get(key, ...) != value:
            req.extra[key] = value
    return req


def _decode_stop(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return list(value)
    raise InvalidRequestError("'stop' must be a string or a list of strings.", param="stop")


def _decode_tools(body: dict[str, Any]) -> list[Tool]:
    raw = body.get("tools")
    key = "tools"
    if raw is None and body.get("functions") is not None:  # legacy: a list of bare functions
        raw, key = body["functions"], "functions"
        if isinstance(raw, list):
            raw = [{"type": "function", "function": fn} for fn in raw]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequestError(f"'{key}' must be a list of tools.", param=key)
    tools: list[Tool] = []
    for i, tool in enumerate(raw):
        path = f"{key}[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequestError(f"'{path}' must be a tool object.", param=path)
        kind = tool.get("type", "function")
        if kind != "function":
            raise InvalidRequestError(
                f"Tools of type {kind!r} cannot be translated for this model's provider; only "
                "'function' tools can.",
                param=f"{path}.type",
            )
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequestError(f"'{path}.function.name' must be a non-empty string.", param=path)
        description = fn.get("description")
        parameters = fn.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidRequestError(
                f"'{path}.function.parameters' must be a JSON schema object.",
                param=f"{path}.function.parameters",
            )
        tools.append(
            Tool(
                fn["name"],
                description if isinstance(description, str) else None,
                parameters if parameters is not None else {"type": "object", "properties": {}},
            )
        )
    return tools


def _decode_tool_choice(body: dict[str, Any]) -> ToolChoice | None:
    raw = body.get("tool_choice")
    key = "tool_choice"
    if raw is None and body.get("function_call") is not None:  # legacy
        raw, key = body["function_call"], "function_call"
    choice: ToolChoice | None = None
    if isinstance(raw, str) and raw in _CHOICE_MODES:
        choice = ToolChoice(_CHOICE_MODES[raw])
    elif isinstance(raw, dict):
        named = raw.get("function") if key == "tool_choice" else raw
        if raw.get("type", "function") != "function" or not isinstance(named, dict):
            raise InvalidRequestError(
                f"'{key}' of type {raw.get('type')!r} cannot be translated for this model's provider; "
                "use 'auto', 'required', 'none' or a named function.",
                param=key,
            )
        if not isinstance(named.get("name"), str):
            raise InvalidRequestError(f"'{key}' must name the function to call.", param=key)
        choice = ToolChoice("tool", named["name"])
    elif raw is not None:
        raise InvalidRequestError(
            f"'{key}' must be 'auto', 'required', 'none' or {{\"type\": \"function\", ...}}.", param=key
        )
    parallel = optional_bool(body, "parallel_tool_calls")
    if parallel is not None:
        choice = choice or ToolChoice("auto")
        choice.parallel = parallel
    return choice


def _decode_response_format(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("'response_format' must be an object.", param="response_format")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError(
                "'response_format.json_schema' must be an object with 'name' and 'schema'.",
                param="response_format.json_schema",
            )
        return {"type": "json_schema", **schema}
    return dict(value)


def _decode_thinking(value: object, req: ChatRequest) -> None:
    # LiteLLM lets OpenAI clients pass Anthropic's thinking config; keep that working.
    if not isinstance(value, dict):
        return
    if value.get("type") == "disabled":
        req.thinking_disabled = True
    elif isinstance(value.get("budget_tokens"), int):
        req.thinking_budget = value["budget_tokens"]


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_request(req: ChatRequest, model: str, *, drop_params: bool) -> dict[str, Any]:
    """:class:`ChatRequest` -> a Chat Completions body for an OpenAI-compatible upstream ``model``.

    Sends ``max_tokens`` (not ``max_completion_tokens``: vLLM, Ollama and others only know the
    former). ``thinking_budget`` is not sent: OpenAI has no budget, and ``reasoning_effort`` is
    rejected by non-reasoning models. Fields OpenAI cannot express (``top_k``, anything in
    ``extra``) raise :class:`UnsupportedParameterError` unless ``drop_params``.
    """
    unsupported = [key for key, value in req.extra.items() if value is not None]
    if req.top_k is not None:
        unsupported.insert(0, "top_k")
    if unsupported and not drop_params:
        names = ", ".join(f"'{name}'" for name in unsupported)
        noun = "Parameter" if len(unsupported) == 1 else "Parameters"
        verb = "is" if len(unsupported) == 1 else "are"
        raise UnsupportedParameterError(
            f"{noun} {names} {verb} not supported by OpenAI-compatible providers; remove "
            f"{'it' if len(unsupported) == 1 else 'them'} or set litellm_settings.drop_params: true",
            param=unsupported[0],
        )
    body: dict[str, Any] = {"model": model, "messages": encode_messages(req.system, req.messages)}
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = list(req.stop)
    if req.seed is not None:
        body["seed"] = req.seed
    if req.n is not None:
        body["n"] = req.n
    if req.user is not None:
        body["user"] = req.user
    if req.tools:
        body["tools"] = [_encode_tool(tool) for tool in req.tools]
        # OpenAI rejects tool_choice and parallel_tool_calls when no tools are given.
        if req.tool_choice is not None:
            choice = req.tool_choice
            if choice.mode == "tool":
                body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
            else:
                body["tool_choice"] = _MODE_CHOICES[choice.mode]
            if choice.parallel is not None:
                body["parallel_tool_calls"] = choice.parallel
    if req.response_format is not None:
        body["response_format"] = _encode_response_format(req.response_format)
    if req.reasoning_effort is not None:
        body["reasoning_effort"] = req.reasoning_effort
    body["stream"] = req.stream
    if req.stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _encode_tool(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        fn["description"] = tool.description
    fn["parameters"] = tool.parameters
    return {"type": "function", "function": fn}


def _encode_response_format(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type") != "json_schema":
        return value
    schema = {key: item for key, item in value.items() if key != "type"}
    schema.setdefault("name", "response")
    return {"type": "json_schema", "json_schema": schema}


def with_stream_usage(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Make a pass-through streaming ``body`` ask for the usage chunk; say if the client asked.

    The body is changed in place (and returned). When the second value is ``False`` and the body
    streams, the gateway must strip the usage chunk the client did not ask for.
    """
    if not body.get("stream"):
        return body, False
    options = body.get("stream_options")
    if isinstance(options, dict):
        if options.get("include_usage") is True:
            return body, True
        body["stream_options"] = {**options, "include_usage": True}
    else:
        body["stream_options"] = {"include_usage": True}
    return body, False
