"""The Anthropic Messages surface as one :class:`~bastion.protocols.wire.WireFormat`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.anthropic import errors, request, response, stream
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.rate_limits import RateLeft, anthropic_rate_headers
from bastion.protocols.wire import fill_defaults

__all__ = ["ANTHROPIC", "AnthropicWire"]

#: Deployment request defaults (canonical name -> Anthropic field).
_DEFAULTS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "top_k": "top_k"}


class AnthropicWire:
    __slots__ = ()

    name = "anthropic"
    dialect = "anthropic"
    passthrough: str | None = "anthropic"
    keepalive = b": ping\n\n"

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return anthropic_rate_headers(requests, tokens, now)

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        rid = request_id.encode()
        return [(b"request-id", rid), (b"x-request-id", rid)]

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return request.decode_request(body)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        return orjson.dumps(response.encode_response(resp, model))

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> stream.StreamEncoder:
        return stream.StreamEncoder(model=model)

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        return errors.stream_error_event(status, kind, message)

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        return event == "message_stop"

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        return (fill_defaults(dict(body), defaults, _DEFAULTS) if defaults else dict(body)), False


ANTHROPIC = AnthropicWire()
