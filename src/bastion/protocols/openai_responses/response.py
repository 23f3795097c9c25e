"""``response`` objects to and from canonical answers, and the Responses API's usage shape.

A canonical answer becomes output items in order: each text block a ``message`` item (one
``output_text`` part), each tool call a ``function_call`` item (the canonical id is its
``call_id``), each thinking block a ``reasoning`` item whose summary holds the thinking text and
whose ``encrypted_content`` holds the provider's signature, so the item can be sent back.

:class:`Echo` holds what a response repeats of its request (``instructions``, ``tools``,
``metadata``, ``temperature``...) with its id and creation time; the streaming encoder and the
stored copy use the same one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    ChatResponse,
    ContentPart,
    RedactedThinkingPart,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai_responses.request import (
    CALL_SIGNATURE_PREFIX,
    CUSTOM_INPUT,
    REDACTED_PREFIX,
    custom_tool_names,
)

__all__ = [
    "Echo",
    "custom_call_item",
    "custom_input",
    "decode_response",
    "encode_response",
    "function_call_item",
    "message_item",
    "new_item_id",
    "new_response_id",
    "reasoning_item",
    "status_for",
    "usage_from_responses",
    "usage_to_responses",
]

#: Request fields a response repeats, with the value OpenAI shows when the request left them out.
_ECHOED: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "service_tier": "default",
    "store": True,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": None,
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}


def new_response_id() -> str:
    return f"resp_{secrets.token_hex(24)}"


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


@dataclass(slots=True)
class Echo:
    """One response's identity and the request fields it repeats."""

    id: str
    model: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    fields: dict[str, Any] = field(default_factory=dict)
    #: The custom (freeform) tools of the request: calls of these are ``custom_tool_call`` items.
    custom: frozenset[str] = frozenset()

    @classmethod
    def of(cls, body: dict[str, Any], model: str, *, response_id: str | None = None) -> Echo:
        """The echo of a client's request ``body`` (``model``: the name the client asked for)."""
        fields = {name: body.get(name, default) for name, default in _ECHOED.items()}
        if fields["metadata"] is None:
            fields["metadata"] = {}
        if fields["tool_choice"] is None:
            fields["tool_choice"] = "auto"
        if fields["tools"] is None:
            fields["tools"] = []
        if fields["store"] is None:
            fields["store"] = True
        if fields["parallel_tool_calls"] is None:
            fields["parallel_tool_calls"] = True
        reasoning = body.get("reasoning")
        reasoning = reasoning if isinstance(reasoning, dict) else {}
        fields["reasoning"] = {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}
        text = body.get("text")
        text = dict(text) if isinstance(text, dict) else {}
        text.setdefault("format", {"type": "text"})
        fields["text"] = text
        custom = custom_tool_names(body.get("tools"))
        return cls(response_id or new_response_id(), model, fields=fields, custom=custom)

    def response(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None,
        *,
        incomplete: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``response`` object in the order OpenAI writes its fields."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete is not None else None,
            "model": self.model,
            "output": output,
            **self.fields,
            "usage": usage,
        }


def status_for(stop_reason: StopReason | None) -> tuple[str, str | None]:
    """``(status, incomplete reason)`` for a canonical stop reason."""
    if stop_reason == "max_tokens":
        return "incomplete", "max_output_tokens"
    if stop_reason == "refusal":
        return "incomplete", "content_filter"
    return "completed", None


def message_item(item_id: str, text: str, *, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text(text)] if status == "completed" else [],
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, *, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def custom_call_item(
    item_id: str, call_id: str, name: str, text: str, *, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "custom_tool_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "input": text,
    }


def custom_input(arguments: dict[str, Any]) -> str:
    """A custom tool's input from the arguments of the function it became."""
    value = arguments.get(CUSTOM_INPUT)
    return value if isinstance(value, str) else orjson.dumps(arguments).decode()


def reasoning_item(item_id: str, text: str | None, encrypted: str | None) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "encrypted_content": encrypted}


def _output_items(content: list[ContentPart], custom: frozenset[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, ToolCallPart) and part.signature:
            items.append(reasoning_item(new_item_id("rs"), None, CALL_SIGNATURE_PREFIX + part.signature))
        if isinstance(part, TextPart):
            items.append(message_item(new_item_id("msg"), part.text))
        elif isinstance(part, ToolCallPart) and part.name in custom:
            items.append(
                custom_call_item(new_item_id("ctc"), part.id, part.name, custom_input(part.arguments))
            )
        elif isinstance(part, ToolCallPart):
            arguments = orjson.dumps(part.arguments).decode()
            items.append(function_call_item(new_item_id("fc"), part.id, part.name, arguments))
        elif isinstance(part, ThinkingPart):
            items.append(reasoning_item(new_item_id("rs"), part.text, part.signature))
        elif isinstance(part, RedactedThinkingPart):
            items.append(reasoning_item(new_item_id("rs"), None, REDACTED_PREFIX + part.data))
    return items


def encode_response(resp: ChatResponse, echo: Echo) -> dict[str, Any]:
    """A canonical answer -> the ``response`` object of ``echo``'s call."""
    status, incomplete = status_for(resp.stop_reason)
    return echo.response(
        status,
        _output_items(resp.content, echo.custom),
        usage_to_responses(resp.usage),
        incomplete=incomplete,
    )


def usage_to_responses(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_responses(u: object) -> Usage:
    """The Responses API's ``usage`` -> :class:`Usage` (input includes cached reads)."""
    if not isinstance(u, dict):
        return Usage()
    details = u.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    out_details = u.get("output_tokens_details")
    out_details = out_details if isinstance(out_details, dict) else {}
    return Usage(
        input_tokens=_count(u.get("input_tokens")),
        output_tokens=_count(u.get("output_tokens")),
        cache_read_tokens=_count(details.get("cached_tokens")),
        cache_write_tokens=_count(details.get("cache_write_tokens")),
        reasoning_tokens=_count(out_details.get("reasoning_tokens")),
    )


def decode_response(data: dict[str, Any]) -> ChatResponse:
    """An upstream's ``response`` object -> a canonical answer (what the response cache keeps)."""
    content: list[ContentPart] = []
    output = data.get("output")
    signature: str | None = None
    for item in output if isinstance(output, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        encrypted = item.get("encrypted_content")
        if kind == "reasoning" and isinstance(encrypted, str) and encrypted.startswith(CALL_SIGNATURE_PREFIX):
            signature = encrypted[len(CALL_SIGNATURE_PREFIX) :]
            continue
        if kind == "message":
            parts = item.get("content")
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, dict):
                    text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
                    if isinstance(text, str):
                        content.append(TextPart(text))
        elif kind == "function_call":
            try:
                arguments = orjson.loads(str(item.get("arguments") or "{}"))
            except orjson.JSONDecodeError:
                arguments = {}
            content.append(
                ToolCallPart(
                    str(item.get("call_id") or ""),
                    str(item.get("name") or ""),
                    arguments if isinstance(arguments, dict) else {},
                    signature,
                )
            )
            signature = None
        elif kind == "custom_tool_call":
            content.append(
                ToolCallPart(
                    str(item.get("call_id") or ""),
                    str(item.get("name") or ""),
                    {CUSTOM_INPUT: str(item.get("input") or "")},
                )
            )
        elif kind == "reasoning":
            summary = item.get("summary")
            text = "".join(
                s["text"]
                for s in (summary if isinstance(summary, list) else [])
                if isinstance(s, dict) and isinstance(s.get("text"), str)
            )
            encrypted = item.get("encrypted_content")
            if text or isinstance(encrypted, str):
                content.append(ThinkingPart(text, encrypted if isinstance(encrypted, str) else None))
    stop: StopReason = "end_turn"
    if any(isinstance(part, ToolCallPart) for part in content):
        stop = "tool_use"
    details = data.get("incomplete_details")
    if data.get("status") == "incomplete" and isinstance(details, dict):
        stop = "max_tokens" if details.get("reason") == "max_output_tokens" else "refusal"
    return ChatResponse(
        id=str(data.get("id") or ""),
        model=str(data.get("model") or ""),
        content=content,
        stop_reason=stop,
        usage=usage_from_responses(data.get("usage")),
    )
