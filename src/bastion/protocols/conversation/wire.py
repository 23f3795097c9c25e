"""The ``/v2`` chat stream as a :class:`~bastion.protocols.wire.WireFormat`.

Requests are OpenAI-shaped; the answer is always translated from canonical events into
``{"type": "delta", "content": ...}`` events. ``start`` and ``done`` belong to the account service
(``done`` carries the stored message), so the encoder keeps what ``done`` needs: the text and the
finish reason. One :class:`ConversationWire` serves one request and keeps its encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.canonical import BlockDelta, ChatRequest, ChatResponse, MessageEnd, StreamEvent
from bastion.protocols.openai import errors as openai_errors
from bastion.protocols.openai import request as openai_request
from bastion.protocols.openai import response as openai_response
from bastion.protocols.rate_limits import RateLeft
from bastion.protocols.sse import encode_event

__all__ = ["ConversationAnswer", "ConversationWire", "event"]


def event(data: dict[str, Any]) -> bytes:
    """One ``/v2`` stream event."""
    return encode_event(orjson.dumps(data))


class ConversationAnswer:
    """Encodes text deltas and keeps the answer: its text, and how it ended."""

    __slots__ = ("ended", "finish_reason", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.ended = False
        #: The OpenAI ``finish_reason`` (``stop``, ``length``, ``tool_calls``...), as ``/v2`` answers.
        self.finish_reason: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def encode(self, ev: StreamEvent) -> bytes:
        kind = type(ev)
        if kind is BlockDelta:
            assert isinstance(ev, BlockDelta)
            if ev.kind != "text" or not ev.value:
                return b""
            self.parts.append(ev.value)
            return event({"type": "delta", "content": ev.value})
        if kind is MessageEnd:
            assert isinstance(ev, MessageEnd)
            self.ended = True
            self.finish_reason = openai_response.finish_reason_for(ev.stop_reason)
        return b""


class ConversationWire:
    __slots__ = ("answer",)

    name = "account"
    dialect = "openai"
    passthrough: str | None = None
    keepalive = b": keep-alive\n\n"

    def __init__(self) -> None:
        #: The encoder of the attempt that answered (``None`` until one did).
        self.answer: ConversationAnswer | None = None

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return []  # no rate-limit headers in this API

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", request_id.encode())]

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return openai_request.decode_request(body)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        return orjson.dumps(openai_response.encode_response(resp, model))

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> ConversationAnswer:
        self.answer = ConversationAnswer()
        return self.answer

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return openai_errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        return event({"type": "error", "message": message, "code": openai_errors.code_for_status(status)})

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        return False  # never a pass-through

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        return dict(body), False
