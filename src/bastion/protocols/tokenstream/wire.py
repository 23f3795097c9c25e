"""The browser token stream as a :class:`~bastion.protocols.wire.WireFormat`.

Its request bodies are OpenAI- or Anthropic-shaped (``/api/openai``, ``/api/anthropic``); its
answers are always translated into the token stream, so nothing passes through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bastion.domain.errors import BastionError, InvalidRequestError
from bastion.protocols.anthropic import request as anthropic_request
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.openai import request as openai_request
from bastion.protocols.rate_limits import RateLeft
from bastion.protocols.tokenstream import errors, stream

__all__ = ["TOKENSTREAM_ANTHROPIC", "TOKENSTREAM_OPENAI", "TokenStreamWire"]


def _no_clock() -> float:
    return 0.0


class TokenStreamWire:
    __slots__ = ("_decode", "dialect")

    name = "tokenstream"
    passthrough: str | None = None
    keepalive = b": ping\n\n"

    def __init__(self, dialect: str, decode: Callable[[dict[str, Any]], ChatRequest]) -> None:
        self.dialect = dialect
        self._decode = decode

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return []  # no rate-limit headers in this API

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", request_id.encode())]

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return self._decode(body)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        raise InvalidRequestError("The browser token stream only streams.")

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> stream.StreamEncoder:
        return stream.StreamEncoder(elapsed_ms or _no_clock)

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        return errors.stream_error_event(status, kind, message)

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        return False  # never a pass-through

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        return dict(body), False


TOKENSTREAM_ANTHROPIC = TokenStreamWire("anthropic", anthropic_request.decode_request)
TOKENSTREAM_OPENAI = TokenStreamWire("openai", openai_request.decode_request)
