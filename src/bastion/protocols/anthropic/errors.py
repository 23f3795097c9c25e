"""The Anthropic error envelope: rendering Bastion errors, reading upstream ones.

Body: ``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``; the types
follow protocols.md 2.5 and 4.5. The status is the error's own (529 stays 529 for Anthropic
clients, whose SDK retries it).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.excerpt import excerpt

__all__ = [
    "error_type",
    "parse_upstream_error",
    "render_error",
    "status_and_kind",
    "stream_error_event",
]

_KIND_TYPES = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit": "rate_limit_error",
    "billing": "billing_error",
    "api_error": "api_error",
    "overloaded": "overloaded_error",
    "timeout": "timeout_error",
}

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: Anthropic error type -> (status, Bastion kind), for errors that arrive inside a stream.
_TYPE_STATUS_KINDS: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "invalid_request"),
    "authentication_error": (401, "authentication"),
    "billing_error": (402, "billing"),
    "permission_error": (403, "permission"),
    "not_found_error": (404, "not_found"),
    "conflict_error": (409, "invalid_request"),
    "request_too_large": (413, "request_too_large"),
    "rate_limit_error": (429, "rate_limit"),
    "api_error": (500, "api_error"),
    "timeout_error": (504, "timeout"),
    "overloaded_error": (529, "overloaded"),
}

_MAX_MESSAGE = 2000


def error_type(kind: str, status: int) -> str:
    """The Anthropic ``error.type`` for a Bastion error kind (falling back on the status)."""
    found = _KIND_TYPES.get(kind)
    if found is not None:
        return found
    if status in _STATUS_TYPES:
        return _STATUS_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def status_and_kind(anthropic_type: str | None) -> tuple[int, str]:
    """The status and Bastion kind an Anthropic ``error.type`` stands for (500/api_error if unknown)."""
    return _TYPE_STATUS_KINDS.get(anthropic_type or "", (500, "api_error"))


def _envelope(kind_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": kind_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def render_error(err: BastionError, *, request_id: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers (``retry-after``, ``x-should-retry``) for an Anthropic client."""
    body = orjson.dumps(_envelope(error_type(err.kind, err.status), err.message, request_id))
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(math.ceil(err.retry_after), 0))
    if not err.retryable:
        headers["x-should-retry"] = "false"
    return err.status, body, headers


def stream_error_event(status: int, kind: str, message: str) -> bytes:
    """An ``event: error`` SSE frame, for failures after the stream has begun."""
    data = orjson.dumps(_envelope(error_type(kind, status), message))
    return b"event: error\ndata: " + data + b"\n\n"


def parse_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """The message and Anthropic error type of an upstream error body, whatever its shape.

    Reads Anthropic's envelope, OpenAI-style ``{"error": {...}}``, ``{"message": ...}`` and
    ``{"detail": ...}``; any
    other body is returned as (trimmed) text so the upstream's wording reaches the client.
    """
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict):
            message = err.get("message")
            kind = err.get("type")
            if isinstance(message, str) and message:
                return excerpt(message, _MAX_MESSAGE), kind if isinstance(kind, str) else None
        elif isinstance(err, str) and err:
            return excerpt(err, _MAX_MESSAGE), None
        for key in ("message", "detail"):
            message = parsed.get(key)
            if isinstance(message, str) and message:
                return excerpt(message, _MAX_MESSAGE), None
    text = body.decode("utf-8", "replace").strip()
    if text:
        return excerpt(text, _MAX_MESSAGE), None
    return f"The upstream provider answered with HTTP {status} and no error message", None
