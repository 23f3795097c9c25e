"""The Gemini generateContent surface as one :class:`~bastion.protocols.wire.WireFormat`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.gemini import errors, request, response, stream
from bastion.protocols.rate_limits import RateLeft
from bastion.protocols.wire import fill_defaults

__all__ = ["GEMINI", "GeminiWire"]

#: Deployment request defaults (canonical name -> field of ``generationConfig``).
_DEFAULTS = {"temperature": "temperature", "top_p": "topP", "max_tokens": "maxOutputTokens", "seed": "seed"}


class GeminiWire:
    __slots__ = ()

    name = "gemini"
    dialect = "gemini"
    passthrough: str | None = "gemini"
    #: Google's SDK rejects SSE comments; a bare blank line keeps the stream open.
    keepalive = b"\n"

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return []  # no rate-limit headers in this API

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", request_id.encode())]

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return request.decode_request(body, model, stream=stream)

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
        # Gemini has no end marker: the chunk that carries a finishReason is the last.
        return data is not None and data.find(b'"finishReason"') >= 0  # find: cheaper than in on 3.11

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        out = dict(body)
        if defaults:
            config = out.get("generationConfig")
            target = fill_defaults(dict(config) if isinstance(config, dict) else {}, defaults, _DEFAULTS)
            if target:
                out["generationConfig"] = target
        return out, False


GEMINI = GeminiWire()
