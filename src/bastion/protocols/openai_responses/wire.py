"""One Responses API call's wire format: a :class:`~bastion.protocols.wire.WireFormat` per call.

A chat surface is stateless; a Responses call is not: its response has an id chosen before the
answer exists, repeats its request's fields, and is stored once it ends. :class:`ResponsesWire` is
the object the pipeline calls for this one request (decode, encode, stream encoder, errors) and
keeps :attr:`final`, the complete response the gateway stores. Its ``passthrough`` protocol is
``responses``: deployments that speak the Responses API themselves get the body unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.canonical import ChatRequest, ChatResponse
from bastion.protocols.openai_responses import errors
from bastion.protocols.openai_responses.events import TERMINAL_EVENTS
from bastion.protocols.openai_responses.request import decode_request
from bastion.protocols.openai_responses.response import Echo, encode_response
from bastion.protocols.openai_responses.stream import StreamEncoder
from bastion.protocols.rate_limits import RateLeft, openai_rate_headers
from bastion.protocols.wire import fill_defaults

__all__ = ["ResponsesWire"]

#: Deployment request defaults (canonical name -> Responses field).
_DEFAULTS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_output_tokens"}


class ResponsesWire:
    """Decode, encode and render errors for one ``POST /v1/responses`` call."""

    __slots__ = ("_encoder", "_final", "echo")

    name = "responses"
    dialect = "responses"
    passthrough: str | None = "responses"
    keepalive = b": ping\n\n"

    def __init__(self) -> None:
        #: Set by :meth:`bind` once the body is read.
        self.echo: Echo | None = None
        self._encoder: StreamEncoder | None = None
        self._final: dict[str, Any] | None = None

    def bind(self, body: dict[str, Any], model: str) -> Echo:
        """Take the call's identity from the client's ``body`` (before it is expanded)."""
        self.echo = Echo.of(body, model)
        return self.echo

    def _echo(self, model: str) -> Echo:
        if self.echo is None:
            self.echo = Echo.of({}, model)
        return self.echo

    @property
    def final(self) -> dict[str, Any] | None:
        """The complete response, once the call answered (JSON) or its stream ended."""
        if self._final is not None:
            return self._final
        return self._encoder.final if self._encoder is not None else None

    @property
    def encodes(self) -> bool:
        """Whether the gateway writes this call's stream (translated), rather than the upstream."""
        return self._encoder is not None

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", request_id.encode())]

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        return openai_rate_headers(requests, tokens, now)

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
        return decode_request(body)

    def encode_response(self, resp: ChatResponse, model: str) -> bytes:
        self._final = encode_response(resp, self._echo(model))
        return orjson.dumps(self._final)

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> StreamEncoder:
        self._encoder = StreamEncoder(self._echo(model))
        return self._encoder

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return errors.render_error(err)

    def stream_error(self, status: int, kind: str, message: str) -> bytes:
        if self._encoder is None:  # a pass-through stream: its events are the upstream's own
            self._encoder = StreamEncoder(self._echo(""), started=True)
        return self._encoder.fail(errors.failure_code(status, kind), message)

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        return event in TERMINAL_EVENTS

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        # A Responses stream always ends with the whole response and its usage: nothing to ask for.
        return (fill_defaults(dict(body), defaults, _DEFAULTS) if defaults else dict(body)), False
