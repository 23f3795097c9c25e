"""Chat Completions streams to and from canonical stream events.

:class:`StreamDecoder` turns an upstream's ``chat.completion.chunk`` payloads into canonical events
(protocols.md §4.4, "OpenAI upstream"); :class:`StreamEncoder` turns canonical events into the SSE
bytes an OpenAI client expects. The encoder runs once per token, so it writes JSON around
pre-built byte strings instead of building a dict per chunk.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from bastion.domain.usage import Usage
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ContentPart,
    MessageEnd,
    MessageStart,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai.errors import error_kind, stream_error_event
from bastion.protocols.openai.response import (
    chat_completion_id,
    finish_reason_for,
    stop_reason_for,
    usage_from_openai,
    usage_to_openai,
)
from bastion.protocols.sse import encode_event

__all__ = ["StreamDecoder", "StreamEncoder"]

_TEXT, _THINKING, _TOOL = "text", "thinking", "tool"


class StreamDecoder:
    """Upstream OpenAI SSE payloads -> canonical events; one instance per stream."""

    __slots__ = (
        "_block",
        "_ended",
        "_finish",
        "_index",
        "_open",
        "_started",
        "_tool_count",
        "_tool_id",
        "_tool_index",
        "_usage",
    )

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._open: str | None = None  # kind of the open block
        self._block = -1  # canonical index of the open (or last) block
        self._index = 0  # next canonical block index
        self._tool_index: int | None = None  # upstream tool-call index of the open tool block
        self._tool_id: str | None = None
        self._tool_count = 0
        self._finish: object = None
        self._usage = Usage()

    def feed(self, data: bytes) -> list[StreamEvent]:
        """Events for the ``data`` payload of one SSE frame (``b"[DONE]"`` ends the stream)."""
        if self._ended:
            return []
        if data.startswith(b"[DONE]"):
            return self.finish()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._ended = True
            return [StreamError(502, "api_error", "The provider sent a malformed stream chunk.")]
        if not isinstance(chunk, dict):
            return []
        error = chunk.get("error")
        if error:
            self._ended = True
            return [_stream_error(error)]
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        usage = chunk.get("usage")
        if choice is None and not isinstance(usage, dict):
            return []  # e.g. Azure's leading prompt_filter_results chunk, with an empty id
        events: list[StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(MessageStart(str(chunk.get("id") or ""), str(chunk.get("model") or "")))
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, events)
            reason = choice.get("finish_reason")
            if reason is not None:
                self._close(events)
                self._finish = reason
        if isinstance(usage, dict):
            self._usage = usage_from_openai(usage)
            # A usage-only chunk is the last one; some servers put usage on the finish chunk, and
            # some (vLLM continuous stats) on every chunk, which must not end the stream early.
            if choice is None or self._finish is not None:
                events.extend(self._end())
        return events

    def finish(self) -> list[StreamEvent]:
        """Events at the end of input: close the open block and end the message, once."""
        if self._ended:
            return []
        if not self._started:
            self._ended = True
            return [
                StreamError(502, "api_error", "The provider ended the stream without sending a response.")
            ]
        return self._end()

    def _end(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        self._close(events)
        self._ended = True
        stop: StopReason | None = stop_reason_for(self._finish, self._tool_count > 0)
        events.append(MessageEnd(stop, self._usage))
        return events

    def _close(self, events: list[StreamEvent]) -> None:
        if self._open is not None:
            events.append(BlockStop(self._block))
            self._open = None
            self._tool_index = None
            self._tool_id = None

    def _open_block(self, kind: str, part: ContentPart, events: list[StreamEvent]) -> None:
        self._close(events)
        self._open = kind
        self._block = self._index
        self._index += 1
        events.append(BlockStart(self._block, part))

    def _delta(self, delta: dict[str, Any], events: list[StreamEvent]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            if self._open != _THINKING:
                self._open_block(_THINKING, ThinkingPart(""), events)
            events.append(BlockDelta(self._block, "thinking", reasoning))
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                if self._open != _TEXT:
                    self._open_block(_TEXT, TextPart(""), events)
                events.append(BlockDelta(self._block, "text", text))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    self._tool_call(call, events)

    def _tool_call(self, call: dict[str, Any], events: list[StreamEvent]) -> None:
        call_id = call.get("id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        index = call.get("index")
        if not isinstance(index, int):  # servers that omit it send each call whole
            index = self._tool_count if call_id or self._open != _TOOL else self._tool_index
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        # Some servers send every call with index 0, so a different id also means a new call.
        if self._open != _TOOL or index != self._tool_index or (call_id and call_id != self._tool_id):
            name = function.get("name")
            if call_id is None and not isinstance(name, str):
                return  # a fragment of a call that is no longer open: OpenAI never interleaves
            self._open_block(_TOOL, ToolCallPart(call_id or _new_call_id(), str(name or "")), events)
            self._tool_index = index
            self._tool_id = call_id
            self._tool_count += 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(BlockDelta(self._block, "json", arguments))


def _new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _stream_error(error: object) -> StreamError:
    if not isinstance(error, dict):
        return StreamError(500, "api_error", str(error))
    status = error.get("status") or error.get("code")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        status = 500
    kind = error.get("type")
    message = error.get("message")
    return StreamError(
        status,
        error_kind(status, kind if isinstance(kind, str) else None),
        message if isinstance(message, str) and message else "The provider reported an error mid-stream.",
    )


class StreamEncoder:
    """Canonical events -> OpenAI ``chat.completion.chunk`` SSE bytes; one instance per stream."""

    __slots__ = ("_base", "_created", "_done", "_head", "_include_usage", "_model", "_tail", "_tool")

    def __init__(self, *, model: str, include_usage: bool, created: int | None = None) -> None:
        self._model = model
        self._include_usage = include_usage
        self._created = created if created is not None else int(time.time())
        self._base = b""  # '{"id":...,"object":...,"created":...,"model":...'
        self._head = b""  # _base + ',"choices":[{"index":0,"delta":'
        self._tail = (
            b',"finish_reason":null}],"usage":null}' if include_usage else b',"finish_reason":null}]}'
        )
        self._tool = -1  # OpenAI tool-call index: counts tool calls, not blocks
        self._done = False

    def encode(self, event: StreamEvent) -> bytes:
        """Zero or more complete SSE events for ``event``."""
        if self._done:
            return b""
        if type(event) is BlockDelta:
            return self._delta(event)
        if type(event) is BlockStart:
            part = event.part
            if type(part) is ToolCallPart:
                return self._tool_start(part)
            return b""
        if type(event) is BlockStop:
            return b""
        if type(event) is MessageStart:
            self._start(event.id)
            return encode_event(self._head + b'{"role":"assistant","content":""}' + self._tail)
        if type(event) is MessageEnd:
            return self._end(event)
        if type(event) is StreamError:
            self._done = True
            return stream_error_event(event.status, event.kind, event.message)
        return b""

    def _start(self, message_id: str) -> None:
        self._base = (
            b'{"id":'
            + orjson.dumps(chat_completion_id(message_id))
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
        )
        self._head = self._base + b',"choices":[{"index":0,"delta":'

    def _chunk(self, delta: bytes) -> bytes:
        if not self._head:  # no MessageStart seen: still produce well-formed chunks
            self._start(uuid.uuid4().hex)
        return encode_event(self._head + delta + self._tail)

    def _delta(self, event: BlockDelta) -> bytes:
        value = event.value
        if not value:
            return b""
        kind = event.kind
        if kind == "text":
            return self._chunk(b'{"content":' + orjson.dumps(value) + b"}")
        if kind == "json":
            return self._chunk(
                b'{"tool_calls":[{"index":'
                + str(max(self._tool, 0)).encode()
                + b',"function":{"arguments":'
                + orjson.dumps(value)
                + b"}}]}"
            )
        if kind == "thinking":
            return self._chunk(b'{"reasoning_content":' + orjson.dumps(value) + b"}")
        return b""  # signatures have no place in an OpenAI stream

    def _tool_start(self, part: ToolCallPart) -> bytes:
        self._tool += 1
        arguments = orjson.dumps(part.arguments).decode() if part.arguments else ""
        call = {
            "index": self._tool,
            "id": part.id,
            "type": "function",
            "function": {"name": part.name, "arguments": arguments},
        }
        return self._chunk(b'{"tool_calls":' + orjson.dumps([call]) + b"}")

    def _end(self, event: MessageEnd) -> bytes:
        if not self._head:
            self._start(uuid.uuid4().hex)
        reason = finish_reason_for(event.stop_reason).encode()
        usage_null = b',"usage":null}' if self._include_usage else b"}"
        out = encode_event(self._head + b'{},"finish_reason":"' + reason + b'"}]' + usage_null)
        if self._include_usage:
            out += encode_event(
                self._base + b',"choices":[],"usage":' + orjson.dumps(usage_to_openai(event.usage)) + b"}"
            )
        self._done = True
        return out + b"data: [DONE]\n\n"
