"""How an endpoint writes its errors: one format per API family, chosen in the route table.

The dispatcher renders every refusal (404, 405, a guard's 401/403, an overload 503) and every
unexpected exception (500) through the endpoint's :class:`ErrorFormat`, so a client always reads
the envelope of the API it called. The client surfaces use their protocol's renderer (OpenAI,
Anthropic, Gemini, the browser token stream), paths several surfaces share the claiming surface's
(:func:`claimed_errors`); the account API and the dashboard bring their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bastion.api.asgi import Request
from bastion.api.surfaces import SURFACES
from bastion.domain.errors import BastionError, ConfigError
from bastion.gateway.surfaces import Surface
from bastion.protocols.anthropic.surface import ERRORS as _ANTHROPIC
from bastion.protocols.gemini.surface import ERRORS as _GEMINI
from bastion.protocols.openai.surface import ERRORS as _OPENAI
from bastion.protocols.surface import ErrorEnvelope, SurfaceSpec
from bastion.protocols.tokenstream.surface import ERRORS as _TOKENSTREAM

__all__ = [
    "ANTHROPIC_ERRORS",
    "GEMINI_ERRORS",
    "LISTING_ERRORS",
    "OPENAI_ERRORS",
    "TOKENSTREAM_ERRORS",
    "ClaimedErrors",
    "ErrorFormat",
    "ErrorReply",
    "SurfaceErrors",
    "claimed_errors",
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
TOKENSTREAM_ERRORS = surface_errors(_TOKENSTREAM)


@dataclass(frozen=True, slots=True)
class ClaimedErrors:
    """For paths several surfaces share (``/v1/models``, an unknown ``/v1/...``): the first surface
    whose ``claims`` recognises the caller's headers (its SDK's own) writes the error; the one that
    claims nothing otherwise."""

    choices: tuple[tuple[Callable[[Mapping[str, str]], bool], SurfaceErrors], ...]
    default: SurfaceErrors
    schema_name: str = "ListingError"
    media_type: str = "application/json"
    schema: Mapping[str, Any] = field(default_factory=dict)

    def pick(self, headers: Mapping[str, str]) -> SurfaceErrors:
        for claims, errors in self.choices:
            if claims(headers):
                return errors
        return self.default

    def render(self, request: Request, err: BastionError, request_id: str) -> ErrorReply:
        return self.pick(request.headers).render(request, err, request_id)


def claimed_errors(specs: Iterable[SurfaceSpec]) -> ClaimedErrors:
    """The shared error format of ``specs`` (their first unclaiming surface is the default)."""
    specs = tuple(specs)
    default = next((spec for spec in specs if spec.claims is None), None)
    if default is None:
        raise ConfigError("surfaces sharing a path need one that claims no caller (the default)")
    choices = tuple((spec.claims, surface_errors(spec.errors)) for spec in specs if spec.claims is not None)
    names = dict.fromkeys(
        errors.schema_name for errors in (surface_errors(default.errors), *(c[1] for c in choices))
    )
    schema = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]}
    return ClaimedErrors(choices, surface_errors(default.errors), schema=schema)


#: What an unknown path answers when no family of routes claims it: the registered surfaces'.
LISTING_ERRORS = claimed_errors(SURFACES)
