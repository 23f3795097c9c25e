"""What every upstream adapter provides, whatever its wire protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bastion.domain.errors import UpstreamError
from bastion.domain.usage import Usage
from bastion.protocols.canonical import ChatRequest, ChatResponse, StreamEvent
from bastion.settings import Deployment

__all__ = [
    "DataDecoder",
    "DataOnly",
    "EventDecoder",
    "LocalModel",
    "ProviderAdapter",
    "UpstreamRequest",
    "UsageSniffer",
]


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes


class EventDecoder(Protocol):
    """Turns one upstream SSE frame into canonical events."""

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class DataDecoder(Protocol):
    """A stream decoder that needs only each frame's data (OpenAI, Gemini: no ``event:`` lines)."""

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class DataOnly:
    """Presents a :class:`DataDecoder` as an :class:`EventDecoder`."""

    __slots__ = ("_inner",)

    def __init__(self, inner: DataDecoder) -> None:
        self._inner = inner

    def feed(self, event: str | None, data: bytes) -> list[StreamEvent]:
        return self._inner.feed(data)

    def finish(self) -> list[StreamEvent]:
        return self._inner.finish()


class UsageSniffer(Protocol):
    """Watches pass-through frames for usage without re-encoding them.

    ``observe`` returns False when the frame must not reach the client (the usage chunk the gateway
    asked for on the client's behalf). ``content_frames`` counts frames that carried output, the
    estimate used when a stream breaks before the provider reports usage.
    """

    usage: Usage
    reported: bool
    content_frames: int
    #: Set when the upstream sent an in-band error event: (HTTP-like status, error kind).
    error: tuple[int, str] | None

    def observe(self, frame: bytes, event: str | None, data: bytes | None) -> bool: ...


class LocalModel(Protocol):
    """A model answered in-process, with no HTTP call (the built-in ``mock`` provider)."""

    def complete(self, req: ChatRequest, dep: Deployment) -> ChatResponse: ...

    def stream(self, req: ChatRequest, dep: Deployment) -> AsyncIterator[StreamEvent]: ...

    def embed(self, texts: list[str], dimensions: int | None) -> list[list[float]]: ...


class ProviderAdapter(Protocol):
    """An upstream wire protocol: how to address it, and how to translate to and from it."""

    protocol: str

    @property
    def local(self) -> LocalModel | None:
        """Set when the provider answers in-process (then it is called instead of any URL)."""

    def chat_request(
        self, dep: Deployment, body: dict[str, Any], *, stream: bool, client_headers: Mapping[str, str]
    ) -> UpstreamRequest: ...

    def count_tokens_request(
        self, dep: Deployment, body: dict[str, Any], *, client_headers: Mapping[str, str]
    ) -> UpstreamRequest | None:
        """The provider's own token count of a chat ``body`` (in its protocol), or ``None`` when
        it has no counting endpoint."""

    def token_count(self, data: dict[str, Any]) -> int | None:
        """The count in the answer of :meth:`count_tokens_request` (``None``: not there)."""

    def embeddings_request(
        self, dep: Deployment, texts: list[str], dimensions: int | None
    ) -> UpstreamRequest | None:
        """Embed ``texts`` (``None``: the provider has no embeddings API)."""

    def embeddings_passthrough(self, dep: Deployment, body: dict[str, Any]) -> UpstreamRequest | None:
        """Send a client's embeddings body written in this protocol as it is (``None``: cannot)."""

    def vectors(self, data: dict[str, Any]) -> list[list[float]]:
        """The vectors of an answer to :meth:`embeddings_request`, in input order."""

    def encode(self, req: ChatRequest, dep: Deployment, *, drop_params: bool) -> dict[str, Any]: ...

    def decode(self, data: dict[str, Any]) -> ChatResponse: ...

    def usage(self, data: dict[str, Any]) -> Usage: ...

    def event_decoder(self) -> EventDecoder: ...

    def sniffer(self, *, strip_usage_chunk: bool) -> UsageSniffer: ...

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> UpstreamError: ...
