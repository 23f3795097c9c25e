"""The mock upstream's OpenAI Responses API: ``POST /v1/responses``, answered and streamed.

Answers like the chat endpoint (words, or a call of the first function tool when the last user
turn says ``use_tool``), in the Responses API's shapes: a ``response`` object, or the event
sequence with ``event:`` lines and ``sequence_number``. It keeps nothing (``store`` is ignored),
so a gateway in front of it must send each conversation whole.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bastion.testing._upstream_answer import TOOL_ARGUMENTS, Answer
from bastion.testing._upstream_reply import (
    Reply,
    Stream,
    frame,
    json_reply,
    last_user_text,
    next_id,
    str_field,
)

__all__ = ["responses"]


def _tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    names: list[str] = [
        tool["name"]
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("name"), str)
    ]
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return str(choice["name"])
    raw = body.get("input")
    said = raw if isinstance(raw, str) else last_user_text(raw, "content")
    if choice == "required" or "use_tool" in said:
        return names[0]
    return None


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }


def _response(
    ident: str, model: str, status: str, output: list[Any], usage: Any, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "metadata": body.get("metadata") or {},
        "text": body.get("text") or {"format": {"type": "text"}},
        "usage": usage,
    }


def responses(body: dict[str, Any], deployment: str | None, query: dict[str, str]) -> Reply | Stream:
    """``POST /v1/responses``."""
    del query
    answer = Answer.build(body, body.get("max_output_tokens"), _tool(body))
    model = str_field(body, "model") or deployment or "mock-model"
    ident = f"resp_mock{next_id()}"
    item_id = f"msg_mock{next_id()}" if answer.tool is None else f"fc_mock{next_id()}"
    call_id = f"call_mock{next_id()}"
    if answer.tool is None:
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": answer.text, "annotations": []}],
        }
    else:
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": answer.tool,
            "arguments": TOOL_ARGUMENTS,
        }
    final = _response(ident, model, "completed", [item], _usage(answer), body)
    if body.get("stream") is not True:
        return json_reply(final)
    seq = itertools.count()

    def event(kind: str, **payload: Any) -> bytes:
        return frame({"type": kind, "sequence_number": next(seq), **payload}, kind)

    started = _response(ident, model, "in_progress", [], None, body)
    head = [event("response.created", response=started), event("response.in_progress", response=started)]
    where = {"item_id": item_id, "output_index": 0}
    if answer.tool is None:
        head.append(
            event(
                "response.output_item.added",
                output_index=0,
                item={**item, "status": "in_progress", "content": []},
            )
        )
        head.append(
            event(
                "response.content_part.added",
                **where,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            )
        )
        tokens = [
            event("response.output_text.delta", **where, content_index=0, delta=piece)
            for piece in answer.pieces
        ]
        tail = [
            event("response.output_text.done", **where, content_index=0, text=answer.text),
            event("response.content_part.done", **where, content_index=0, part=item["content"][0]),
        ]
    else:
        head.append(
            event(
                "response.output_item.added",
                output_index=0,
                item={**item, "status": "in_progress", "arguments": ""},
            )
        )
        tokens = [
            event("response.function_call_arguments.delta", **where, delta=piece) for piece in answer.pieces
        ]
        tail = [event("response.function_call_arguments.done", **where, arguments=TOOL_ARGUMENTS)]
    tail.append(event("response.output_item.done", output_index=0, item=item))
    tail.append(event("response.completed", response=final))

    def failed(message: str) -> bytes:
        error = {"code": "server_error", "message": message}
        return event("error", code="server_error", message=message, param=None) + event(
            "response.failed", response={**final, "status": "failed", "error": error, "usage": None}
        )

    return Stream(head, tokens, tail, failed)
