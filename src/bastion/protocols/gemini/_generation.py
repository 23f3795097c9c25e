"""``generationConfig`` to and from the canonical sampling, output and reasoning fields.

Fields Gemini has but the canonical form does not (penalties, modalities, speech...) are kept in
``ChatRequest.extra`` under their own camelCase names, so other encoders can name them in an error
and the Gemini encoder can put them back. Unknown keys keep their place with a
``generationConfig.`` prefix.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.canonical import ChatRequest
from bastion.protocols.gemini._casing import expect_dict, expect_list, pick, to_camel
from bastion.protocols.gemini._schema import to_json_schema

__all__ = ["GENERATION_EXTRAS", "PREFIX", "apply_generation_config", "encode_generation_config"]

PREFIX = "generationConfig."

#: generationConfig fields without a canonical meaning, kept in ``extra`` under these names.
GENERATION_EXTRAS = frozenset(
    {
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "responseModalities",
        "responseMimeType",
        "responseSchema",
        "mediaResolution",
        "speechConfig",
        "audioTimestamp",
        "imageConfig",
        "enableEnhancedCivicAnswers",
        "routingConfig",
        "modelSelectionConfig",
    }
)

_JSON_MIME = "application/json"
_CANONICAL_KEYS = frozenset(
    {
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "stopSequences",
        "seed",
        "candidateCount",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "thinkingConfig",
    }
)

#: Thinking budgets for effort names (LiteLLM's defaults, see protocols.md section 4.1).
_EFFORT_BUDGETS = {"minimal": 128, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192}


def apply_generation_config(config: Any, req: ChatRequest) -> None:
    """Set ``req``'s canonical fields from a client's ``generationConfig``."""
    gc = expect_dict(config, "generationConfig")
    where = "generationConfig."
    value = pick(gc, "maxOutputTokens", "max_output_tokens")
    if value is not None:
        req.max_tokens = _int(value, where + "maxOutputTokens")
    value = gc.get("temperature")
    if value is not None:
        req.temperature = _number(value, where + "temperature")
    value = pick(gc, "topP", "top_p")
    if value is not None:
        req.top_p = _number(value, where + "topP")
    value = pick(gc, "topK", "top_k")
    if value is not None:
        req.top_k = _int(value, where + "topK")
    value = pick(gc, "stopSequences", "stop_sequences")
    if value is not None:
        req.stop = _str_list(value, where + "stopSequences")
    value = gc.get("seed")
    if value is not None:
        req.seed = _int(value, where + "seed")
    value = pick(gc, "candidateCount", "candidate_count")
    if value is not None:
        req.n = _int(value, where + "candidateCount")
    _apply_output_format(gc, req)
    thinking = pick(gc, "thinkingConfig", "thinking_config")
    if thinking is not None:
        _apply_thinking(expect_dict(thinking, where + "thinkingConfig"), req)
    for key, item in gc.items():
        name = to_camel(key)
        if name in _CANONICAL_KEYS:
            continue
        req.extra[name if name in GENERATION_EXTRAS else PREFIX + name] = item


def _apply_output_format(gc: dict[str, Any], req: ChatRequest) -> None:
    mime = pick(gc, "responseMimeType", "response_mime_type")
    json_schema = pick(gc, "responseJsonSchema", "response_json_schema")
    schema = pick(gc, "responseSchema", "response_schema")
    if mime is not None and mime != _JSON_MIME:
        # text/x.enum and friends: Gemini-only, kept for a Gemini upstream.
        req.extra["responseMimeType"] = mime
        if schema is not None:
            req.extra["responseSchema"] = schema
        if json_schema is not None:
            req.extra[PREFIX + "responseJsonSchema"] = json_schema
        return
    if json_schema is not None:
        req.response_format = {"type": "json_schema", "name": "response", "schema": json_schema}
    elif schema is not None:
        req.response_format = {"type": "json_schema", "name": "response", "schema": to_json_schema(schema)}
    elif mime == _JSON_MIME:
        req.response_format = {"type": "json_object"}


def _apply_thinking(thinking: dict[str, Any], req: ChatRequest) -> None:
    budget = pick(thinking, "thinkingBudget", "thinking_budget")
    if budget is not None:
        budget = _int(budget, "generationConfig.thinkingConfig.thinkingBudget")
        if budget == 0:
            req.thinking_disabled = True
        elif budget > 0:
            req.thinking_budget = budget
        # -1 is "dynamic", Gemini's default: nothing to carry.
    level = pick(thinking, "thinkingLevel", "thinking_level")
    if level is not None:
        req.reasoning_effort = _str(level, "generationConfig.thinkingConfig.thinkingLevel").lower()
    # includeThoughts has no canonical field: the encoder asks for thoughts whenever thinking is on.


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_generation_config(req: ChatRequest) -> dict[str, Any]:
    """The ``generationConfig`` for ``req`` (extras are merged in by the caller)."""
    gc: dict[str, Any] = {}
    if req.max_tokens is not None:
        gc["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        gc["temperature"] = req.temperature
    if req.top_p is not None:
        gc["topP"] = req.top_p
    if req.top_k is not None:
        gc["topK"] = req.top_k
    if req.stop:
        gc["stopSequences"] = req.stop
    if req.seed is not None:
        gc["seed"] = req.seed
    if req.n is not None:
        gc["candidateCount"] = req.n
    if req.response_format is not None:
        _encode_output_format(req.response_format, gc)
    thinking = _encode_thinking(req)
    if thinking:
        gc["thinkingConfig"] = thinking
    return gc


def _encode_output_format(fmt: dict[str, Any], gc: dict[str, Any]) -> None:
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        gc["responseMimeType"] = _JSON_MIME
        return
    if kind == "json_schema":
        schema = fmt.get("schema")
        if schema is None and isinstance(fmt.get("json_schema"), dict):  # OpenAI's nesting
            schema = fmt["json_schema"].get("schema")
        gc["responseMimeType"] = _JSON_MIME
        if schema is not None:
            gc["responseJsonSchema"] = schema
        return
    raise UnsupportedParameterError(
        f"response_format type {kind!r} is not supported by Gemini; use json_object or json_schema.",
        param="response_format",
    )


def _encode_thinking(req: ChatRequest) -> dict[str, Any]:
    if req.thinking_disabled:
        return {"thinkingBudget": 0}
    if req.thinking_budget is not None:
        return {"thinkingBudget": req.thinking_budget, "includeThoughts": True}
    if req.reasoning_effort is None:
        return {}
    effort = req.reasoning_effort.lower()
    if effort == "none":
        return {"thinkingBudget": 0}
    budget = _EFFORT_BUDGETS.get(effort)
    if budget is None:
        raise InvalidRequestError(
            f"reasoning_effort {req.reasoning_effort!r} is not one of none, {', '.join(_EFFORT_BUDGETS)}.",
            param="reasoning_effort",
        )
    return {"thinkingBudget": budget, "includeThoughts": True}


# ---------------------------------------------------------------------------------------------
# Type checks with messages that name the field


def _int(value: Any, param: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidRequestError(f"'{param}' must be an integer.", param=param)


def _number(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"'{param}' must be a number.", param=param)
    return float(value)


def _str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{param}' must be a string.", param=param)
    return value


def _str_list(value: Any, param: str) -> list[str]:
    items = expect_list(value, param)
    if not all(isinstance(item, str) for item in items):
        raise InvalidRequestError(f"'{param}' must be an array of strings.", param=param)
    return items
