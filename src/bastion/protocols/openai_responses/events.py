"""An upstream's Responses API stream, read: canonical events, and the final response.

Used when the upstream speaks the Responses API itself (pass-through): :func:`terminal_response`
finds the response a stream ends with (the gateway stores it and reads its usage), and
:class:`StreamDecoder` turns the events into canonical ones (the response cache keeps those, so a
cached answer can be replayed on any surface).
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    DeltaKind,
    MessageEnd,
    MessageStart,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai_responses.response import usage_from_responses
from bastion.protocols.sse import FrameSplitter, parse_frame

__all__ = ["TERMINAL_EVENTS", "StreamDecoder", "final_in_frames", "terminal_response"]

#: The events a Responses stream ends with; each carries the whole response.
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _payload(data: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def terminal_response(event: str | None, data: bytes) -> dict[str, Any] | None:
    """The response a terminal event carries; None for any other event."""
    if event is not None and event not in TERMINAL_EVENTS:
        return None
    if event is None and not any(name.encode() in data for name in TERMINAL_EVENTS):
        return None
    obj = _payload(data)
    if obj is None or obj.get("type") not in TERMINAL_EVENTS:
        return None
    response = obj.get("response")
    return response if isinstance(response, dict) else None


def final_in_frames(chunk: bytes) -> dict[str, Any] | None:
    """The final response among whole SSE frames, if ``chunk`` holds the terminal one."""
    if (
        b"response.completed" not in chunk
        and b"response.incomplete" not in chunk
        and b"response.failed" not in chunk
    ):
        return None
    splitter = FrameSplitter()
    for frame in [*splitter.feed(chunk), *splitter.finish()]:
        event, data = parse_frame(frame)
        if data is not None:
            found = terminal_response(event, data)
            if found is not None:
                return found
    return None


class StreamDecoder:
    """Upstream Responses events -> canonical events; one instance per stream."""

    __slots__ = ("_ended", "_index", "_open", "_started", "_tools")

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._open = False
        self._index = 0
        self._tools = 0

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        if self._ended:
            return []
        obj = _payload(data)
        if obj is None:
            return []
        kind = obj.get("type") or event
        out: list[StreamEvent] = []
        if not self._started and kind != "error":
            self._started = True
            response = _object(obj, "response")
            out.append(MessageStart(str(response.get("id") or ""), str(response.get("model") or "")))
        if kind == "response.output_item.added":
            item = _object(obj, "item")
            part = _part(item)
            if part is not None:
                if isinstance(part, ToolCallPart):
                    self._tools += 1
                out.extend(self._start(part))
        elif kind == "response.output_text.delta" or kind == "response.refusal.delta":
            out.extend(self._delta("text", obj.get("delta")))
        elif kind == "response.function_call_arguments.delta":
            out.extend(self._delta("json", obj.get("delta")))
        elif kind == "response.reasoning_summary_text.delta":
            out.extend(self._delta("thinking", obj.get("delta")))
        elif kind == "response.output_item.done":
            item = _object(obj, "item")
            encrypted = item.get("encrypted_content")
            if self._open and item.get("type") == "reasoning" and isinstance(encrypted, str) and encrypted:
                out.append(BlockDelta(self._index - 1, "signature", encrypted))
            if self._open and item.get("type") == "custom_tool_call":  # its input whole, as the JSON
                text = item.get("input")  # of the function the tool becomes
                out.append(
                    BlockDelta(self._index - 1, "json", orjson.dumps({"input": str(text or "")}).decode())
                )
            out.extend(self._stop())
        elif kind in ("response.completed", "response.incomplete"):
            response = _object(obj, "response")
            out.extend(self._stop())
            self._ended = True
            out.append(MessageEnd(self._stop_reason(response), usage_from_responses(response.get("usage"))))
        elif kind in ("response.failed", "error"):
            self._ended = True
            response = _object(obj, "response")
            error = _object(response, "error") or obj
            message = error.get("message")
            out.append(StreamError(500, "api_error", str(message or "The provider's response failed.")))
        return out

    def finish(self) -> list[StreamEvent]:
        if self._ended:
            return []
        self._ended = True
        if not self._started:
            return [
                StreamError(502, "api_error", "The provider ended the stream without sending a response.")
            ]
        return [*self._stop(), MessageEnd(None, Usage())]

    def _start(self, part: TextPart | ToolCallPart | ThinkingPart) -> list[StreamEvent]:
        out = self._stop()
        self._open = True
        out.append(BlockStart(self._index, part))
        self._index += 1
        return out

    def _delta(self, kind: DeltaKind, value: object) -> list[StreamEvent]:
        if not isinstance(value, str) or not value:
            return []
        out: list[StreamEvent] = []
        if not self._open:
            out.extend(self._start(ThinkingPart("") if kind == "thinking" else TextPart("")))
        out.append(BlockDelta(self._index - 1, kind, value))
        return out

    def _stop(self) -> list[StreamEvent]:
        if not self._open:
            return []
        self._open = False
        return [BlockStop(self._index - 1)]

    def _stop_reason(self, response: dict[str, Any]) -> StopReason:
        details = response.get("incomplete_details")
        if response.get("status") == "incomplete" and isinstance(details, dict):
            return "max_tokens" if details.get("reason") == "max_output_tokens" else "refusal"
        return "tool_use" if self._tools else "end_turn"


def _part(item: dict[str, Any]) -> TextPart | ToolCallPart | ThinkingPart | None:
    kind = item.get("type")
    if kind == "message":
        return TextPart("")
    if kind in ("function_call", "custom_tool_call"):
        return ToolCallPart(str(item.get("call_id") or ""), str(item.get("name") or ""))
    if kind == "reasoning":
        return ThinkingPart("")
    return None
