"""Canonical stream events -> the Responses API's event sequence.

Every event is ``event: <type>`` plus one-line JSON with the same ``type`` and a
``sequence_number`` counting from 0. The order is OpenAI's: ``response.created``,
``response.in_progress``; per output item ``response.output_item.added``, its parts and deltas
(``content_part.added``, ``output_text.delta``... ``output_text.done``, ``content_part.done``, or
``function_call_arguments.delta``... ``.done``, or the ``reasoning_summary_*`` events), then
``response.output_item.done``; last ``response.completed`` (or ``response.incomplete``) carrying
the whole response with its usage. A failure after the start ends with an ``error`` event and
``response.failed``.

The encoder keeps the finished items, so :attr:`StreamEncoder.final` is the complete response
the gateway stores once the stream has ended.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.protocols.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageEnd,
    MessageStart,
    RedactedThinkingPart,
    StreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from bastion.protocols.openai_responses.request import CALL_SIGNATURE_PREFIX, REDACTED_PREFIX
from bastion.protocols.openai_responses.response import (
    Echo,
    custom_call_item,
    custom_input,
    function_call_item,
    message_item,
    new_item_id,
    output_text,
    reasoning_item,
    status_for,
    usage_to_responses,
)
from bastion.protocols.sse import encode_event

__all__ = ["StreamEncoder"]

_TEXT, _TOOL, _CUSTOM, _THINKING, _REDACTED = "text", "tool", "custom", "thinking", "redacted"


class StreamEncoder:
    """One response's events; one instance per stream."""

    __slots__ = (
        "_buffer",
        "_call",
        "_item_id",
        "_kind",
        "_seq",
        "_signature",
        "_started",
        "echo",
        "final",
        "output",
    )

    def __init__(self, echo: Echo, *, started: bool = False) -> None:
        self.echo = echo
        self.output: list[dict[str, Any]] = []
        #: The complete response once the stream ended (completed, incomplete or failed).
        self.final: dict[str, Any] | None = None
        self._seq = 0
        #: ``True`` when ``response.created`` was already sent (by a pass-through upstream).
        self._started = started
        self._kind: str | None = None
        self._item_id = ""
        self._buffer: list[str] = []
        self._call: tuple[str, str] = ("", "")
        self._signature: str | None = None

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        body = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return encode_event(orjson.dumps(body), kind)

    def _start(self) -> bytes:
        self._started = True
        response = self.echo.response("in_progress", [], None)
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def encode(self, event: StreamEvent) -> bytes:
        kind = type(event)
        out = b"" if self._started else self._start()
        if kind is BlockDelta:
            assert isinstance(event, BlockDelta)
            return out + self._delta(event)
        if kind is MessageStart:
            return out
        if kind is BlockStart:
            assert isinstance(event, BlockStart)
            return out + self._open(event)
        if kind is BlockStop:
            return out + self._close()
        if kind is MessageEnd:
            assert isinstance(event, MessageEnd)
            out += self._close()
            status, incomplete = status_for(event.stop_reason)
            self.final = self.echo.response(
                status, list(self.output), usage_to_responses(event.usage), incomplete=incomplete
            )
            return out + self._event(f"response.{status}", {"response": self.final})
        return out

    def fail(self, code: str, message: str) -> bytes:
        """The end of a stream that failed after it began: ``error``, then ``response.failed``."""
        out = b"" if self._started else self._start()
        out += self._event("error", {"code": code, "message": message, "param": None})
        self.final = self.echo.response(
            "failed", list(self.output), None, error={"code": code, "message": message}
        )
        return out + self._event("response.failed", {"response": self.final})

    # ------------------------------------------------------------------ items

    def _where(self) -> dict[str, Any]:
        return {"item_id": self._item_id, "output_index": len(self.output)}

    def _open(self, event: BlockStart) -> bytes:
        out = self._close()  # blocks are sequential; a start closes any block left open
        part = event.part
        if isinstance(part, ToolCallPart) and part.signature:
            out += self._signature_item(part.signature)
        self._buffer = []
        self._signature = None
        index = len(self.output)
        if isinstance(part, ToolCallPart) and part.name in self.echo.custom:
            # A custom tool's input arrives as JSON fragments of {"input": ...}: sent whole at the end.
            self._kind, self._item_id = _CUSTOM, new_item_id("ctc")
            self._call = (part.id, part.name)
            item = custom_call_item(self._item_id, part.id, part.name, "", status="in_progress")
            return out + self._event("response.output_item.added", {"output_index": index, "item": item})
        if isinstance(part, ToolCallPart):
            self._kind, self._item_id = _TOOL, new_item_id("fc")
            self._call = (part.id, part.name)
            item = function_call_item(self._item_id, part.id, part.name, "", status="in_progress")
            return out + self._event("response.output_item.added", {"output_index": index, "item": item})
        if isinstance(part, ThinkingPart):
            self._kind, self._item_id = _THINKING, new_item_id("rs")
            if part.text:
                self._buffer.append(part.text)
            self._signature = part.signature
            item = reasoning_item(self._item_id, None, None)
            return (
                out
                + self._event("response.output_item.added", {"output_index": index, "item": item})
                + self._event(
                    "response.reasoning_summary_part.added",
                    {**self._where(), "summary_index": 0, "part": {"type": "summary_text", "text": ""}},
                )
            )
        if isinstance(part, RedactedThinkingPart):
            self._kind, self._item_id = _REDACTED, new_item_id("rs")
            self._signature = REDACTED_PREFIX + part.data
            item = reasoning_item(self._item_id, None, None)
            return out + self._event("response.output_item.added", {"output_index": index, "item": item})
        self._kind, self._item_id = _TEXT, new_item_id("msg")
        if isinstance(part, TextPart) and part.text:
            self._buffer.append(part.text)
        item = message_item(self._item_id, "", status="in_progress")
        return (
            out
            + self._event("response.output_item.added", {"output_index": index, "item": item})
            + self._event(
                "response.content_part.added", {**self._where(), "content_index": 0, "part": output_text("")}
            )
        )

    def _signature_item(self, signature: str) -> bytes:
        """A function call's signature, in a reasoning item of its own just before the call."""
        index = len(self.output)
        item = reasoning_item(new_item_id("rs"), None, CALL_SIGNATURE_PREFIX + signature)
        self.output.append(item)
        return self._event(
            "response.output_item.added", {"output_index": index, "item": {**item, "encrypted_content": None}}
        ) + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _delta(self, event: BlockDelta) -> bytes:
        kind, value = event.kind, event.value
        if self._kind is None:
            # A delta without its start (a lenient upstream): open the block it belongs to.
            part = ToolCallPart(new_item_id("call"), "") if kind == "json" else TextPart("")
            opened = self._open(BlockStart(event.index, ThinkingPart("") if kind == "thinking" else part))
            return opened + self._delta(event)
        if kind == "signature":
            self._signature = (self._signature or "") + value
            return b""
        if not value:
            return b""
        self._buffer.append(value)
        if self._kind == _TEXT:
            return self._event(
                "response.output_text.delta",
                {**self._where(), "content_index": 0, "delta": value, "logprobs": []},
            )
        if self._kind == _TOOL:
            return self._event("response.function_call_arguments.delta", {**self._where(), "delta": value})
        if self._kind == _THINKING:
            return self._event(
                "response.reasoning_summary_text.delta", {**self._where(), "summary_index": 0, "delta": value}
            )
        return b""

    def _close(self) -> bytes:
        kind = self._kind
        if kind is None:
            return b""
        self._kind = None
        text = "".join(self._buffer)
        where = self._where()
        index = where["output_index"]
        out = b""
        if kind == _TEXT:
            item = message_item(self._item_id, text)
            out += self._event(
                "response.output_text.done", {**where, "content_index": 0, "text": text, "logprobs": []}
            )
            out += self._event(
                "response.content_part.done", {**where, "content_index": 0, "part": output_text(text)}
            )
        elif kind == _TOOL:
            arguments = text or "{}"
            call_id, name = self._call
            item = function_call_item(self._item_id, call_id, name, arguments)
            out += self._event(
                "response.function_call_arguments.done", {**where, "name": name, "arguments": arguments}
            )
        elif kind == _CUSTOM:
            call_id, name = self._call
            try:
                parsed = orjson.loads(text or "{}")
            except orjson.JSONDecodeError:
                parsed = None
            value = custom_input(parsed) if isinstance(parsed, dict) else text
            item = custom_call_item(self._item_id, call_id, name, value)
            out += self._event("response.custom_tool_call_input.delta", {**where, "delta": value})
            out += self._event("response.custom_tool_call_input.done", {**where, "input": value})
        elif kind == _THINKING:
            item = reasoning_item(self._item_id, text, self._signature)
            part = {"type": "summary_text", "text": text}
            out += self._event(
                "response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text}
            )
            out += self._event(
                "response.reasoning_summary_part.done", {**where, "summary_index": 0, "part": part}
            )
        else:
            item = reasoning_item(self._item_id, None, self._signature)
        self.output.append(item)
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})
