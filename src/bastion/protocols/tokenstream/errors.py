"""Token-stream errors: a JSON ``{"error": {...}}`` body before the stream starts, one ``data:`` line after.

The error object is ``{"type", "message", "retryable"}`` (plus ``status``, and ``retryAfter`` in
seconds when the caller should wait), so a browser client can decide to retry without parsing
messages. Types are the Anthropic names (``rate_limit_error``, ``invalid_request_error``, ...).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.anthropic.errors import error_type

__all__ = ["error_object", "render_error", "retryable_status", "stream_error_event"]


def retryable_status(status: int) -> bool:
    """Whether a client may try the same call again: timeouts, conflicts, 429 and every 5xx."""
    return status in (408, 409, 429) or status >= 500


def error_object(status: int, kind: str, message: str, retry_after: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": error_type(kind, status),
        "message": message,
        "retryable": retryable_status(status),
        "status": status,
    }
    if retry_after is not None:
        body["retryAfter"] = max(math.ceil(retry_after), 0)
    return body


def render_error(err: BastionError) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers (``retry-after`` when known) for an error before the stream."""
    body = orjson.dumps({"error": error_object(err.status, err.kind, err.message, err.retry_after)})
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(math.ceil(err.retry_after), 0))
    return err.status, body, headers


def stream_error_event(status: int, kind: str, message: str) -> bytes:
    """The one ``data:`` line that ends a stream which failed after it began."""
    return b"data: " + orjson.dumps({"error": error_object(status, kind, message)}) + b"\n\n"
