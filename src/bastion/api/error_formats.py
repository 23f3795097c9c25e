"""How an endpoint writes its errors: one format per API family, chosen in the route table.

The dispatcher renders every refusal (404, 405, a guard's 401/403, an overload 503) and every
unexpected exception (500) through the endpoint's :class:`ErrorFormat`, so a client always reads
the envelope of the API it called. The client surfaces use their protocol's renderer (OpenAI,
Anthropic, Gemini, the browser token stream); the account API and the dashboard bring their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bastion.api.asgi import Request
from bastion.domain.errors import BastionError
from bastion.gateway.surfaces import TOKENSTREAM_OPENAI, Surface
from bastion.protocols.anthropic.surface import ERRORS as _ANTHROPIC
from bastion.protocols.gemini.surface import ERRORS as _GEMINI
from bastion.protocols.openai.surface import ERRORS as _OPENAI
from bastion.protocols.surface import ErrorEnvelope

__all__ = [
    "ANTHROPIC_ERRORS",
    "GEMINI_ERRORS",
    "LISTING_ERRORS",
    "OPENAI_ERRORS",
    "TOKENSTREAM_ERRORS",
    "ErrorFormat",
    "ErrorReply",
    "SurfaceErrors",
    "caller_surface",
    "surface_errors",
]


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: int
    body: bytes
    content_type: bytes = b"application/json"
    headers: tuple[tuple[bytes, bytes], ...] = ()


class ErrorFormat(Protocol):
    """Renders a :class:`BastionError` for one family of endpoints."""

    #: The OpenAPI name of the error body's schema, and the schema itself.
    @property
    def schema_name(self) -> str: ...

    @property
    def schema(self) -> Mapping[str, Any]: ...

    #: The content type of the error body (``application/json``; ``text/html`` for pages).
    @property
    def media_type(self) -> str: ...

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply: ...


_TOKENSTREAM_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "retry_after": {"type": ["number", "null"]},
            },
        }
    },
    "required": ["error"],
}


@dataclass(frozen=True, slots=True)
class SurfaceErrors:
    """A client surface's own error envelope, with its request-id headers."""

    surface: Surface
    schema_name: str
    schema: Mapping[str, Any]
    media_type: str = "application/json"

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply:
        status, body, headers = self.surface.render_error(err)
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw.extend(self.surface.request_id_headers(request_id))
        return ErrorReply(status, body, headers=tuple(raw))


_BY_ENVELOPE: dict[int, SurfaceErrors] = {}


def surface_errors(envelope: ErrorEnvelope) -> SurfaceErrors:
    """The one :class:`SurfaceErrors` of a protocol's declared error envelope."""
    found = _BY_ENVELOPE.get(id(envelope))
    if found is None:
        found = SurfaceErrors(envelope.wire, envelope.schema_name, envelope.schema)
        _BY_ENVELOPE[id(envelope)] = found
    return found


OPENAI_ERRORS = surface_errors(_OPENAI)
ANTHROPIC_ERRORS = surface_errors(_ANTHROPIC)
GEMINI_ERRORS = surface_errors(_GEMINI)
TOKENSTREAM_ERRORS = SurfaceErrors(TOKENSTREAM_OPENAI, "TokenStreamError", _TOKENSTREAM_SCHEMA)


@dataclass(frozen=True, slots=True)
class _ListingErrors:
    """For paths several surfaces share (``/v1/models``, an unknown ``/v1/...``): the caller's
    headers tell its SDK (``anthropic-version``; Google's ``x-goog-*``); OpenAI otherwise."""

    schema_name: str = "ListingError"
    media_type: str = "application/json"
    schema: Mapping[str, Any] = field(
        default_factory=lambda: {
            "oneOf": [
                {"$ref": f"#/components/schemas/{name}"}
                for name in ("OpenAIError", "AnthropicError", "GeminiError")
            ]
        }
    )

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply:
        return caller_surface(request).render(request, err, request_id)


LISTING_ERRORS = _ListingErrors()


def caller_surface(request: Request) -> SurfaceErrors:
    """Which client surface a caller of a shared path speaks, by the headers its SDK sends."""
    headers = request.headers
    if "anthropic-version" in headers:
        return ANTHROPIC_ERRORS
    if "x-goog-api-client" in headers or "x-goog-api-key" in headers:
        return GEMINI_ERRORS
    return OPENAI_ERRORS
