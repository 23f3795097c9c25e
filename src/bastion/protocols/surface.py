"""How a client surface declares its endpoints: paths, methods, error envelope, request schemas.

Each protocol package owns one :class:`SurfaceSpec` (in its ``surface.py``); the API registers
the specs in one list (``bastion.api.surfaces.SURFACES``) and builds the route table from them. A
spec is data only: ``kind`` names what the gateway does for an :class:`Operation` (``chat``,
``embeddings`` with the operation's ``codec``, ``count_tokens``, ``models`` and ``model`` (the
model groups the caller may use, written by the operation's ``listing``), or a handler another
part of the API supplies under that name).

Several surfaces may declare a listing at one path (``GET /v1/models``): the request goes to the
first whose ``claims`` recognises its headers, else to the one that claims nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.protocols.embeddings import EmbeddingsCodec
from bastion.protocols.wire import WireFormat

__all__ = [
    "JSON",
    "JSON_OR_SSE",
    "LISTING_PATHS",
    "MODEL",
    "SSE",
    "STREAM",
    "ErrorEnvelope",
    "ListedModel",
    "Listing",
    "Operation",
    "SurfaceSpec",
    "provider_body",
]

JSON = "application/json"
SSE = "text/event-stream"
#: JSON, or server-sent events when the body asks for ``"stream": true``.
JSON_OR_SSE = "application/json, text/event-stream"

#: Where the SDKs list models: surfaces that list there claim their clients' requests (``claims``).
LISTING_PATHS = ("/v1/models", "/models")

MODEL = {"type": "string", "description": "A model group of this gateway (GET /v1/models lists them)."}
STREAM = {"type": "boolean", "default": False}


def provider_body(
    title: str, docs: str, required: dict[str, Any], *, optional: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The OpenAPI schema of a provider's request body: the fields every call needs, the rest open."""
    return {
        "title": title,
        "type": "object",
        "description": f"{title}, as the provider defines it; fields Bastion does not read are passed on.",
        "externalDocs": {"url": docs},
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": True,
    }


@dataclass(frozen=True, slots=True)
class ErrorEnvelope:
    """A surface's error body: written by ``wire``, described in OpenAPI as ``schema_name``."""

    wire: WireFormat
    schema_name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ListedModel:
    """A model group as a listing shows it: its name and the token limits configured for it."""

    name: str
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None


#: Writes a listing's answer: every group the caller may use (``models``), or the one asked for
#: (``model``: a one-element sequence).
Listing = Callable[[Sequence[ListedModel]], bytes]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a surface, served at each of ``paths``.

    ``stream``: the path itself says whether the answer streams (Gemini's actions). ``codec``: an
    ``embeddings`` operation's bodies; ``listing``: a ``models``/``model`` operation's answer.
    ``query``: the query parameters OpenAPI lists."""

    kind: str
    paths: tuple[str, ...]
    summary: str
    body: Mapping[str, Any] | None = None
    produces: str = JSON
    method: str = "POST"
    stream: bool | None = None
    query: tuple[str, ...] = ()
    codec: EmbeddingsCodec | None = None
    listing: Listing | None = None


@dataclass(frozen=True, slots=True)
class SurfaceSpec:
    """A client surface: its wire format, error envelope, OpenAPI tag and operations.

    ``count_body`` picks the chat request out of a token-count body; ``count_answer`` writes the
    count in the surface's shape (both only for surfaces with a ``count_tokens`` operation).
    ``claims``: whether a request's headers come from this surface's clients (its SDK's own
    headers), for paths several surfaces share; ``None``: the surface answers such a path when no
    other claims the request."""

    wire: WireFormat
    errors: ErrorEnvelope
    tag: str
    operations: tuple[Operation, ...]
    count_body: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    count_answer: Callable[[int], bytes] | None = None
    claims: Callable[[Mapping[str, str]], bool] | None = None
