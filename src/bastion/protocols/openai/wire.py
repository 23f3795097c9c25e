"""The OpenAI Chat Completions surface as one :class:`~bastion.protocols.wire.WireFormat`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.openai import errors, request, response, stream
from bastion.protocols.rate_limits import RateLeft, openai_rate_headers
from bastion.protocols.wire import fill_defaults

__all__ = ["OPENAI", "OpenAIWire", "wants_usage"]

#: Deployment request defaults (canonical name -> OpenAI field).
_DEFAULTS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens", "seed": "seed"}


def wants_usage(body: Mapping[str, Any]) -> bool:
    """Whether a streaming request asked for the usage chunk (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


class OpenAIWire:
    __slots__ = ()

    name = "openai"
    dialect = "openai"
    passthrough: str | None = "openai"
    keepalive = b": ping\n\n"

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return openai_rate_headers(requests, tokens, now)

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", request_id.encode())]

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return request.decode_request(body)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        return orjson.dumps(response.encode_response(resp, model))

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> stream.StreamEncoder:
        return stream.StreamEncoder(model=model, include_usage=wants_usage(body))

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        return errors.stream_error_event(status, kind, message)

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        return data is not None and data.startswith(b"[DONE]")

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        out = fill_defaults(dict(body), defaults, _DEFAULTS) if defaults else dict(body)
        if not stream:
            return out, False
        out, asked = request.with_stream_usage(out)
        return out, not asked


OPENAI = OpenAIWire()
