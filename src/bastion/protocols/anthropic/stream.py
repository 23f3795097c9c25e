"""Anthropic Messages SSE events <-> canonical stream events.

:class:`StreamDecoder` reads an upstream's events (one ``feed`` per SSE frame) and
:class:`StreamEncoder` writes events for an Anthropic client, always with the ``event:`` line (the
Python SDK dispatches on it and drops frames without one). Both run per token: no validation
beyond what is read, orjson only, and the delta frames are assembled from prebuilt bytes.

Blocks the canonical form cannot hold (server tool use and results) are skipped by the decoder,
and parts an Anthropic stream cannot hold (images) by the encoder; both renumber the blocks that
remain so ``index`` stays the position in the final content.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.protocols.anthropic.errors import status_and_kind, stream_error_event
from bastion.protocols.anthropic.response import (
    decode_stop_reason,
    encode_stop_reason,
    message_id,
    usage_from_anthropic,
    usage_to_anthropic,
)
from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    DeltaKind,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StopReason,
    StreamError,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)

__all__ = ["StreamDecoder", "StreamEncoder"]

_DELTA_KINDS: dict[str, tuple[DeltaKind, str]] = {
    "text_delta": ("text", "text"),
    "input_json_delta": ("json", "partial_json"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
}
_USAGE_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


class StreamDecoder:
    """Turns an Anthropic upstream's SSE events into canonical stream events."""

    __slots__ = ("_done", "_index", "_stop_reason", "_stop_sequence", "_usage")

    def __init__(self) -> None:
        self._done = False
        #: upstream block index -> canonical index, for the blocks that are kept.
        self._index: dict[int, int] = {}
        self._usage: dict[str, Any] = {}
        self._stop_reason: StopReason | None = None
        self._stop_sequence: str | None = None

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        """The canonical events for one SSE frame (``event`` name, ``data`` payload)."""
        if self._done or not data:
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail("the upstream sent an event that is not valid JSON")
        if not isinstance(payload, dict):
            return self._fail("the upstream sent an event that is not a JSON object")
        # The payload's type is authoritative; some compatible servers omit the event line.
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_stop":
            index = self._index.get(payload.get("index", -1))
            return [] if index is None else [BlockStop(index)]
        if kind == "message_start":
            return self._message_start(payload)
        if kind == "message_delta":
            self._message_delta(payload)
            return []
        if kind == "message_stop":
            self._done = True
            usage = usage_from_anthropic(self._usage)
            return [MessageEnd(self._stop_reason, usage, self._stop_sequence)]
        if kind == "error":
            err = payload.get("error")
            err = err if isinstance(err, dict) else {}
            status, error_kind = status_and_kind(err.get("type"))
            self._done = True
            return [StreamError(status, error_kind, str(err.get("message") or "upstream stream error"))]
        return []  # ping, and event types added later

    def finish(self) -> list[StreamEvent]:
        """Call at end of the upstream body: a stream without ``message_stop`` was cut short."""
        if self._done:
            return []
        return self._fail("upstream stream ended early")

    def _fail(self, message: str) -> list[StreamEvent]:
        self._done = True
        return [StreamError(502, "api_error", message)]

    def _delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = self._index.get(payload.get("index", -1))
        delta = payload.get("delta")
        if index is None or not isinstance(delta, dict):
            return []
        mapped = _DELTA_KINDS.get(delta.get("type", ""))
        if mapped is None:
            return []  # citations_delta and future kinds have no canonical form
        value = delta.get(mapped[1])
        return [BlockDelta(index, mapped[0], value)] if isinstance(value, str) else []

    def _block_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        block = payload.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = block.get("type")
        index = len(self._index)
        events: list[StreamEvent]
        if kind == "text":
            events = [BlockStart(index, TextPart(""))]
            if block.get("text"):
                events.append(BlockDelta(index, "text", block["text"]))
        elif kind == "tool_use":
            part = ToolCallPart(str(block.get("id") or ""), str(block.get("name") or ""))
            events = [BlockStart(index, part)]
            if block.get("input"):
                events.append(BlockDelta(index, "json", orjson.dumps(block["input"]).decode()))
        elif kind == "thinking":
            events = [BlockStart(index, ThinkingPart(""))]
            if block.get("thinking"):
                events.append(BlockDelta(index, "thinking", block["thinking"]))
            if block.get("signature"):
                events.append(BlockDelta(index, "signature", block["signature"]))
        elif kind == "redacted_thinking":
            events = [BlockStart(index, RedactedThinkingPart(str(block.get("data") or "")))]
        else:
            return []
        self._index[payload.get("index", index)] = index
        return events

    def _message_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        message = payload.get("message")
        message = message if isinstance(message, dict) else {}
        self._merge_usage(message.get("usage"))
        usage = usage_from_anthropic(self._usage)
        return [MessageStart(str(message.get("id") or ""), str(message.get("model") or ""), usage)]

    def _message_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, dict):
            if delta.get("stop_reason") is not None:
                self._stop_reason = decode_stop_reason(delta["stop_reason"])
            if isinstance(delta.get("stop_sequence"), str):
                self._stop_sequence = delta["stop_sequence"]
        self._merge_usage(payload.get("usage"))

    def _merge_usage(self, usage: Any) -> None:
        """Overwrite the running totals with every non-null value (they are cumulative)."""
        if not isinstance(usage, dict):
            return
        for key in _USAGE_KEYS:
            value = usage.get(key)
            if value is not None:
                self._usage[key] = value
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and details.get("thinking_tokens") is not None:
            self._usage["output_tokens_details"] = details


# ---------------------------------------------------------------------------------------------
# Encoding

_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_DELTA_HEAD = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_DELTA_MIDS: dict[str, bytes] = {
    "text": b',"delta":{"type":"text_delta","text":',
    "json": b',"delta":{"type":"input_json_delta","partial_json":',
    "thinking": b',"delta":{"type":"thinking_delta","thinking":',
    "signature": b',"delta":{"type":"signature_delta","signature":',
}
_DELTA_TAIL = b"}}\n\n"
_STOP_HEAD = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":'


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _delta_frame(index: int, kind: str, value: str) -> bytes:
    return _DELTA_HEAD + str(index).encode() + _DELTA_MIDS[kind] + orjson.dumps(value) + _DELTA_TAIL


class StreamEncoder:
    """Writes canonical stream events as Anthropic SSE frames for one response."""

    __slots__ = ("_index", "_model")

    def __init__(self, *, model: str) -> None:
        self._model = model
        #: canonical block index -> Anthropic index, for the blocks Anthropic can show.
        self._index: dict[int, int] = {}

    def encode(self, event: StreamEvent) -> bytes:
        """The SSE bytes for ``event`` (possibly several frames, possibly none)."""
        if isinstance(event, BlockDelta):
            index = self._index.get(event.index)
            return b"" if index is None else _delta_frame(index, event.kind, event.value)
        if isinstance(event, BlockStart):
            return self._block_start(event)
        if isinstance(event, BlockStop):
            index = self._index.get(event.index)
            return b"" if index is None else _STOP_HEAD + str(index).encode() + b"}\n\n"
        if isinstance(event, MessageStart):
            return self._message_start(event)
        if isinstance(event, MessageEnd):
            return self._message_end(event)
        return stream_error_event(event.status, event.kind, event.message)

    def ping(self) -> bytes:
        """A keep-alive the SDK ignores."""
        return _PING

    def _message_start(self, event: MessageStart) -> bytes:
        message: dict[str, Any] = {
            "id": message_id(event.id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_anthropic(event.usage),
        }
        return _frame("message_start", {"type": "message_start", "message": message})

    def _block_start(self, event: BlockStart) -> bytes:
        part = event.part
        index = len(self._index)
        tail = b""
        block: dict[str, Any]
        # Content arrives in deltas, as from Anthropic itself; clients may ignore it in the start.
        if isinstance(part, TextPart):
            block = {"type": "text", "text": ""}
            if part.text:
                tail = _delta_frame(index, "text", part.text)
        elif isinstance(part, ToolCallPart):
            block = {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
            if part.arguments:
                tail = _delta_frame(index, "json", orjson.dumps(part.arguments).decode())
        elif isinstance(part, ThinkingPart):
            # The SDK's ThinkingBlock type requires "signature"; it is filled by a signature delta.
            block = {"type": "thinking", "thinking": "", "signature": ""}
            if part.text:
                tail = _delta_frame(index, "thinking", part.text)
            if part.signature:
                tail += _delta_frame(index, "signature", part.signature)
        elif isinstance(part, RedactedThinkingPart):
            block = {"type": "redacted_thinking", "data": part.data}
        else:
            return b""
        self._index[event.index] = index
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        return _frame("content_block_start", payload) + tail

    def _message_end(self, event: MessageEnd) -> bytes:
        usage = event.usage
        out: dict[str, Any] = {"output_tokens": usage.output_tokens}
        if usage.input_tokens:
            # Sent again because a translator may learn the prompt size only at the end; left out
            # when unknown, since the SDK overwrites its totals with any value present.
            full = usage_to_anthropic(usage)
            out = {k: full[k] for k in _USAGE_KEYS}
        if usage.reasoning_tokens:
            out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
        delta = {"stop_reason": encode_stop_reason(event.stop_reason), "stop_sequence": event.stop_sequence}
        payload = {"type": "message_delta", "delta": delta, "usage": out}
        return _frame("message_delta", payload) + _MESSAGE_STOP
