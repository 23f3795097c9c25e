"""``streamGenerateContent?alt=sse`` chunks to and from canonical stream events.

Each Gemini chunk is a whole GenerateContentResponse holding only the new parts; a function call
arrives whole; ``usageMetadata`` may repeat (the last one wins); there is no end sentinel, so the
end of the body ends the message (:meth:`StreamDecoder.finish`).

The encoder writes only ``data: <json>`` lines and blank lines: the google-genai SDK hands any
other line (``event:``, comments) to its JSON parser and fails.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageEnd,
    MessageStart,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.gemini._casing import pick
from bastion.protocols.gemini._content import CallIds
from bastion.protocols.gemini.errors import kind_for, stream_error_event
from bastion.protocols.gemini.response import (
    finish_reason_for,
    new_response_id,
    stop_reason_for,
    usage_from_gemini,
    usage_to_gemini,
)

__all__ = ["StreamDecoder", "StreamEncoder"]

_BlockKind = Literal["text", "thinking"]


class StreamDecoder:
    """Turns the data payloads of a Gemini SSE stream into canonical events."""

    __slots__ = (
        "_blocked",
        "_failed",
        "_finish",
        "_has_calls",
        "_ids",
        "_index",
        "_open",
        "_started",
        "_usage",
    )

    def __init__(self) -> None:
        self._started = False
        self._failed = False
        self._index = 0
        self._open: _BlockKind | None = None
        # The raw usageMetadata: converted once at the end, as only the last one counts.
        self._usage: dict[str, Any] | None = None
        self._finish: Any = None
        self._has_calls = False
        self._blocked = False
        self._ids = CallIds(deterministic=False)

    def feed(self, data: bytes) -> list[StreamEvent]:
        """Events for one SSE ``data`` payload."""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._failed = True
            return [
                StreamError(
                    status=502, kind="api_error", message="Gemini sent a stream chunk that is not JSON."
                )
            ]
        events: list[StreamEvent] = []
        for item in chunk if isinstance(chunk, list) else [chunk]:
            if isinstance(item, dict):
                self._chunk(item, events)
        return events

    def finish(self) -> list[StreamEvent]:
        """Events at the end of the body: close the open block and end the message."""
        if self._failed:
            return []
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(id=new_response_id(), model=""))
        self._close(events)
        stop: StopReason | None
        if self._finish is None and self._blocked:
            stop = "refusal"
        else:
            stop = stop_reason_for(self._finish, has_calls=self._has_calls)
        events.append(MessageEnd(stop_reason=stop, usage=usage_from_gemini(self._usage)))
        return events

    def _chunk(self, chunk: dict[str, Any], events: list[StreamEvent]) -> None:
        error = chunk.get("error")
        if isinstance(error, dict):
            self._failed = True
            code = error.get("code")
            status = code if isinstance(code, int) and code >= 400 else 500
            name = error.get("status")
            message = error.get("message")
            events.append(
                StreamError(
                    status=status,
                    kind=kind_for(status, name if isinstance(name, str) else None),
                    message=message if isinstance(message, str) else "Gemini reported an error mid-stream.",
                )
            )
            return
        usage = pick(chunk, "usageMetadata", "usage_metadata")
        if isinstance(usage, dict):
            self._usage = usage
        if not self._started:
            self._started = True
            response_id = pick(chunk, "responseId", "response_id")
            model = pick(chunk, "modelVersion", "model_version")
            known = usage_from_gemini(self._usage)
            events.append(
                MessageStart(
                    id=response_id if isinstance(response_id, str) and response_id else new_response_id(),
                    model=model if isinstance(model, str) else "",
                    usage=Usage(input_tokens=known.input_tokens, cache_read_tokens=known.cache_read_tokens),
                )
            )
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            feedback = pick(chunk, "promptFeedback", "prompt_feedback")
            if isinstance(feedback, dict) and pick(feedback, "blockReason", "block_reason"):
                self._blocked = True
            return
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, dict):
                    self._part(part, events)
        reason = pick(candidate, "finishReason", "finish_reason")
        if reason is not None:
            self._finish = reason

    def _part(self, part: dict[str, Any], events: list[StreamEvent]) -> None:
        text = part.get("text")
        signature = pick(part, "thoughtSignature", "thought_signature")
        if not isinstance(signature, str) or not signature:
            signature = None
        if isinstance(text, str):
            if part.get("thought") is True:
                if text or signature:
                    self._open_block("thinking", events)
                if text:
                    events.append(BlockDelta(index=self._index, kind="thinking", value=text))
                if signature:
                    events.append(BlockDelta(index=self._index, kind="signature", value=signature))
            elif text:
                # A signature on a plain text part is not required back, and has no canonical slot.
                self._open_block("text", events)
                events.append(BlockDelta(index=self._index, kind="text", value=text))
            return
        call = pick(part, "functionCall", "function_call")
        if isinstance(call, dict) and isinstance(call.get("name"), str) and call["name"]:
            self._close(events)
            name: str = call["name"]
            args = call.get("args")
            tool = ToolCallPart(id=self._ids.for_call(name, call.get("id")), name=name, signature=signature)
            events.append(BlockStart(index=self._index, part=tool))
            raw = orjson.dumps(args if isinstance(args, dict) else {}).decode()
            events.append(BlockDelta(index=self._index, kind="json", value=raw))
            events.append(BlockStop(index=self._index))
            self._index += 1
            self._has_calls = True
        # Other parts (inline images, executable code, a call without a name) have no stream block.

    def _open_block(self, kind: _BlockKind, events: list[StreamEvent]) -> None:
        if self._open == kind:
            return
        self._close(events)
        self._open = kind
        events.append(
            BlockStart(index=self._index, part=TextPart(text="") if kind == "text" else ThinkingPart(text=""))
        )

    def _close(self, events: list[StreamEvent]) -> None:
        if self._open is not None:
            events.append(BlockStop(index=self._index))
            self._index += 1
            self._open = None


class StreamEncoder:
    """Writes canonical events as Gemini SSE chunks for a client of the Gemini surface."""

    __slots__ = ("_args", "_kinds", "_model", "_tail", "_tool")

    def __init__(self, *, model: str) -> None:
        self._model = model
        self._tail = self._make_tail(new_response_id())
        self._kinds: dict[int, str] = {}
        self._tool: ToolCallPart | None = None
        self._args: list[str] = []

    def _make_tail(self, response_id: str) -> bytes:
        # Every chunk ends the same way: precompute it once per stream.
        return (
            b',"modelVersion":'
            + orjson.dumps(self._model)
            + b',"responseId":'
            + orjson.dumps(response_id)
            + b"}"
        )

    def _chunk(self, part: dict[str, Any]) -> bytes:
        return (
            b'data: {"candidates":[{"content":{"role":"model","parts":['
            + orjson.dumps(part)
            + b']},"index":0}]'
            + self._tail
            + b"\n\n"
        )

    def encode(self, event: StreamEvent) -> bytes:
        """The bytes to send for ``event`` (often empty: starts and stops have no Gemini chunk)."""
        if isinstance(event, BlockDelta):
            return self._delta(event)
        if isinstance(event, BlockStart):
            part = event.part
            if isinstance(part, TextPart):
                self._kinds[event.index] = "text"
            elif isinstance(part, ThinkingPart):
                self._kinds[event.index] = "thinking"
            elif isinstance(part, ToolCallPart):
                self._kinds[event.index] = "tool"
                self._tool = part
                self._args = []
            return b""
        if isinstance(event, BlockStop):
            if self._kinds.pop(event.index, None) == "tool":
                return self._tool_call()
            return b""
        if isinstance(event, MessageStart):
            self._tail = self._make_tail(event.id)
            return b""
        if isinstance(event, MessageEnd):
            return self._end(event)
        return stream_error_event(event.status, event.kind, event.message)

    def _delta(self, event: BlockDelta) -> bytes:
        kind = self._kinds.get(event.index)
        if kind == "text" and event.kind == "text":
            return self._chunk({"text": event.value}) if event.value else b""
        if kind == "thinking":
            if event.kind == "thinking" and event.value:
                return self._chunk({"text": event.value, "thought": True})
            if event.kind == "signature" and event.value:
                return self._chunk({"text": "", "thought": True, "thoughtSignature": event.value})
        elif kind == "tool" and event.kind == "json":
            self._args.append(event.value)
        return b""

    def _tool_call(self) -> bytes:
        tool, self._tool = self._tool, None
        if tool is None:
            return b""
        raw = "".join(self._args)
        try:
            args = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            args = None
        if not isinstance(args, dict):
            return stream_error_event(
                502, "api_error", f"The model sent malformed arguments for tool '{tool.name}'."
            )
        item: dict[str, Any] = {"functionCall": {"id": tool.id, "name": tool.name, "args": args}}
        if tool.signature is not None:
            item["thoughtSignature"] = tool.signature
        return self._chunk(item)

    def _end(self, event: MessageEnd) -> bytes:
        candidate: dict[str, Any] = {}
        if event.stop_reason != "refusal":
            # The SDK's chat history drops a turn if any chunk's content is empty.
            candidate["content"] = {"role": "model", "parts": [{"text": ""}]}
        candidate["finishReason"] = finish_reason_for(event.stop_reason)
        candidate["index"] = 0
        body = b'{"candidates":' + orjson.dumps([candidate]) + b',"usageMetadata":'
        return b"data: " + body + orjson.dumps(usage_to_gemini(event.usage)) + self._tail + b"\n\n"
