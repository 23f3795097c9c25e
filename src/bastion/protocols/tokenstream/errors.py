"""Token-stream errors: a JSON ``{"error": {...}}`` body before the stream starts, one ``data:`` line after.

The error object is ``{"type", "message", "retryable"}`` (plus ``status``, ``retryAfter`` in
seconds when the caller should wait, and ``code`` when the error has one, e.g.
``plan_quota_exceeded``), so a browser client can decide to retry without parsing messages. A 429
whose wait is longer than :data:`MAX_RETRY_WAIT` (a plan's quota, renewing in hours or days) is not
retryable: the page should show the message, not spin. Types are the Anthropic names
(``rate_limit_error``, ``invalid_request_error``, ...).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.anthropic.errors import error_type

__all__ = ["MAX_RETRY_WAIT", "error_object", "render_error", "retryable_status", "stream_error_event"]

#: Seconds: a longer ``retryAfter`` is a quota to wait out, not a burst to retry after.
MAX_RETRY_WAIT = 60


def retryable_status(status: int) -> bool:
    """Whether a client may try the same call again: timeouts, conflicts, 429 and every 5xx."""
    return status in (408, 409, 429) or status >= 500


def error_object(
    status: int, kind: str, message: str, retry_after: float | None = None, code: str | None = None
) -> dict[str, Any]:
    waitable = retry_after is None or retry_after <= MAX_RETRY_WAIT
    body: dict[str, Any] = {
        "type": error_type(kind, status),
        "message": message,
        "retryable": retryable_status(status) and waitable,
        "status": status,
    }
    if retry_after is not None:
        body["retryAfter"] = max(math.ceil(retry_after), 0)
    if code is not None:
        body["code"] = code
    return body


def render_error(err: BastionError) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers (``retry-after`` when known) for an error before the stream."""
    body = orjson.dumps({"error": error_object(err.status, err.kind, err.message, err.retry_after, err.code)})
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(math.ceil(err.retry_after), 0))
    return err.status, body, headers


def stream_error_event(status: int, kind: str, message: str) -> bytes:
    """The one ``data:`` line that ends a stream which failed after it began."""
    return b"data: " + orjson.dumps({"error": error_object(status, kind, message)}) + b"\n\n"
