"""The client-facing wire protocols, behind one small interface the pipeline uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from bastion.domain.errors import BastionError, InvalidRequestError
from bastion.protocols.anthropic import errors as anthropic_errors
from bastion.protocols.anthropic import request as anthropic_request
from bastion.protocols.anthropic import response as anthropic_response
from bastion.protocols.anthropic import stream as anthropic_stream
from bastion.protocols.canonical import ChatRequest, ChatResponse, StreamEvent
from bastion.protocols.gemini import errors as gemini_errors
from bastion.protocols.gemini import request as gemini_request
from bastion.protocols.gemini import response as gemini_response
from bastion.protocols.gemini import stream as gemini_stream
from bastion.protocols.openai import errors as openai_errors
from bastion.protocols.openai import request as openai_request
from bastion.protocols.openai import response as openai_response
from bastion.protocols.openai import stream as openai_stream
from bastion.protocols.openai_responses.wire import ResponsesWire
from bastion.protocols.tokenstream import errors as tokenstream_errors
from bastion.protocols.tokenstream import stream as tokenstream_stream

__all__ = [
    "ANTHROPIC",
    "GEMINI",
    "OPENAI",
    "TOKENSTREAM_ANTHROPIC",
    "TOKENSTREAM_OPENAI",
    "StreamEncoder",
    "Surface",
    "WireFormat",
    "responses_surface",
]


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes: ...


class WireFormat(Protocol):
    """A client protocol's codec as one object (the Responses API's, which holds per-call state)."""

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest: ...

    def encode_response(self, resp: ChatResponse, model: str) -> bytes: ...

    def stream_encoder(
        self, model: str, *, include_usage: bool, elapsed_ms: Callable[[], float] | None = None
    ) -> StreamEncoder: ...

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]: ...

    def stream_error(self, status: int, kind: str, message: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Surface:
    """A client protocol. ``name`` doubles as the protocol name providers are compared with.

    ``dialect`` is the protocol request bodies are written in when it is not ``name``: the browser
    token stream (``tokenstream``) takes Anthropic- or OpenAI-shaped bodies and always translates.
    ``wire``, when set, does all the coding (the Responses API: one per call).
    """

    name: str
    dialect: str = ""
    wire: WireFormat | None = None

    @property
    def keepalive(self) -> bytes:
        """What keeps an idle stream open: an SSE comment, or for Gemini (whose SDK rejects
        comments) a bare blank line."""
        return b"\n" if self.name == "gemini" else b": ping\n\n"

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        if self.wire is not None:
            return self.wire.decode_request(body, model, stream=stream)
        protocol = self.dialect or self.name
        if protocol == "openai":
            return openai_request.decode_request(body)
        if protocol == "anthropic":
            return anthropic_request.decode_request(body)
        return gemini_request.decode_request(body, model, stream=stream)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        if self.wire is not None:
            return self.wire.encode_response(resp, model)
        if self.name == "openai":
            return orjson.dumps(openai_response.encode_response(resp, model))
        if self.name == "anthropic":
            return orjson.dumps(anthropic_response.encode_response(resp, model))
        if self.name == "tokenstream":
            raise InvalidRequestError("The browser token stream only streams.")
        return orjson.dumps(gemini_response.encode_response(resp, model))

    def stream_encoder(
        self, model: str, *, include_usage: bool, elapsed_ms: Callable[[], float] | None = None
    ) -> StreamEncoder:
        if self.wire is not None:
            return self.wire.stream_encoder(model, include_usage=include_usage, elapsed_ms=elapsed_ms)
        if self.name == "tokenstream":
            return tokenstream_stream.StreamEncoder(elapsed_ms or (lambda: 0.0))
        if self.name == "openai":
            return openai_stream.StreamEncoder(model=model, include_usage=include_usage)
        if self.name == "anthropic":
            return anthropic_stream.StreamEncoder(model=model)
        return gemini_stream.StreamEncoder(model=model)

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        if self.wire is not None:
            return self.wire.render_error(err)
        if self.name == "openai":
            return openai_errors.render_error(err)
        if self.name == "anthropic":
            return anthropic_errors.render_error(err)
        if self.name == "tokenstream":
            return tokenstream_errors.render_error(err)
        return gemini_errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        if self.wire is not None:
            return self.wire.stream_error(status, kind, message)
        if self.name == "openai":
            return openai_errors.stream_error_event(status, kind, message)
        if self.name == "anthropic":
            return anthropic_errors.stream_error_event(status, kind, message)
        if self.name == "tokenstream":
            return tokenstream_errors.stream_error_event(status, kind, message)
        return gemini_errors.stream_error_event(status, kind, message)


OPENAI = Surface("openai")
ANTHROPIC = Surface("anthropic")
GEMINI = Surface("gemini")
#: The browser token stream, behind ``/api/anthropic`` and ``/api/openai`` (docs/browser.md).
TOKENSTREAM_ANTHROPIC = Surface("tokenstream", "anthropic")
TOKENSTREAM_OPENAI = Surface("tokenstream", "openai")


def responses_surface() -> tuple[Surface, ResponsesWire]:
    """A surface for one Responses API call, and its wire (which knows the call's response id)."""
    wire = ResponsesWire()
    return Surface("responses", wire=wire), wire
