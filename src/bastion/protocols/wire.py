"""What the gateway asks of a client-facing wire format: one object per format, in its package.

The pipeline never compares protocol names: it asks the caller's :class:`WireFormat` to decode the
request, encode the answer (whole or as a stream), write errors, say which frame ends a stream,
what keeps an idle stream open and which request-id headers to send. ``passthrough`` names the
provider protocol whose bodies go upstream unchanged (``None``: always translated); a pass-through
body is prepared by :meth:`WireFormat.passthrough_body`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bastion.domain.errors import BastionError
from bastion.protocols.canonical import ChatRequest, ChatResponse, StreamEvent
from bastion.protocols.rate_limits import RateLeft

__all__ = ["StreamEncoder", "WireFormat", "fill_defaults"]


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes: ...


class WireFormat(Protocol):
    #: The surface's name in usage records, metrics, the response cache's key and the OpenAPI tags.
    @property
    def name(self) -> str: ...

    #: The protocol request bodies are written in (the browser token stream takes two).
    @property
    def dialect(self) -> str: ...

    #: The provider protocol this format passes through byte for byte, or ``None``.
    @property
    def passthrough(self) -> str | None: ...

    #: What keeps an idle stream open.
    @property
    def keepalive(self) -> bytes: ...

    def request_id_headers(self, request_id: str) -> list[tuple[bytes, bytes]]: ...

    def rate_limit_headers(
        self, requests: RateLeft | None, tokens: RateLeft | None, now: float
    ) -> list[tuple[bytes, bytes]]:
        """What is left of the tightest request and token limits, as this API's headers say it."""
        ...

    def decode_request(self, body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest: ...

    def encode_response(self, resp: ChatResponse, model: str) -> bytes: ...

    def stream_encoder(
        self, model: str, body: Mapping[str, Any], elapsed_ms: Callable[[], float] | None = None
    ) -> StreamEncoder:
        """An encoder for one answer; ``body`` is the client's request (it may ask for extras)."""

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]: ...

    def stream_error(self, status: int, kind: str, message: str) -> bytes: ...

    def is_terminal(self, event: str | None, data: bytes | None) -> bool:
        """Whether a pass-through frame is the stream's last (after it only closing frames come)."""

    def passthrough_body(
        self, body: dict[str, Any], defaults: Mapping[str, Any], *, stream: bool
    ) -> tuple[dict[str, Any], bool]:
        """A copy of the client's ``body`` ready to go upstream unchanged otherwise: the
        deployment's request ``defaults`` filled in where the client set none, and whatever a
        stream needs to report usage. The flag says the usage frame must be kept from the client."""


def fill_defaults(
    target: dict[str, Any], defaults: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    """Set ``defaults`` (canonical names) in ``target`` under the protocol's ``names``."""
    for ours, theirs in names.items():
        if ours in defaults and theirs not in target:
            target[theirs] = defaults[ours]
    return target
