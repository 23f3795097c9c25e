"""Gemini's error envelope, ``{"error":{"code","message","status","details"?}}``, both ways.

Status names follow google.rpc codes as the Gemini API uses them (protocols.md sections 3.5 and
4.5). 529 is sent as 503: Gemini clients know ``UNAVAILABLE``, not Anthropic's overload code.
A rate limit carries its delay as a ``RetryInfo`` detail, which is where Gemini clients look.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.protocols.excerpt import excerpt

__all__ = [
    "kind_for",
    "parse_retry_delay",
    "parse_upstream_error",
    "render_error",
    "status_name",
    "stream_error_event",
]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_KINDS = {
    "INVALID_ARGUMENT": "invalid_request",
    "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request",
    "UNAUTHENTICATED": "authentication",
    "PERMISSION_DENIED": "permission",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limit",
    "UNAVAILABLE": "overloaded",
    "DEADLINE_EXCEEDED": "timeout",
}
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def _http_status(status: int) -> int:
    return 503 if status == 529 else status


def status_name(status: int, kind: str | None = None) -> str:
    """The google.rpc status name for an HTTP status (``kind`` refines a few cases)."""
    if kind == "billing":
        return "FAILED_PRECONDITION"
    if kind == "overloaded":
        return "UNAVAILABLE"
    name = _STATUS_NAMES.get(_http_status(status))
    if name is not None:
        return name
    return "INVALID_ARGUMENT" if 400 <= status < 500 else "INTERNAL"


def kind_for(status: int, name: str | None) -> str:
    """Bastion's error kind for an upstream's HTTP status and Gemini status name."""
    if name is not None and name in _KINDS:
        return _KINDS[name]
    if status in (503, 529):
        return "overloaded"
    if status == 429:
        return "rate_limit"
    if status in (408, 504):
        return "timeout"
    return "invalid_request" if 400 <= status < 500 else "api_error"


def render_error(err: BastionError) -> tuple[int, bytes, dict[str, str]]:
    """``(status, body, headers)`` of ``err`` for a client of the Gemini surface."""
    status = _http_status(err.status)
    error: dict[str, Any] = {"code": status, "message": err.message, "status": status_name(status, err.kind)}
    details: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        seconds = max(math.ceil(err.retry_after), 0)
        details.append({"@type": _RETRY_INFO, "retryDelay": f"{seconds}s"})
        headers["retry-after"] = str(seconds)
    if err.param is not None and 400 <= status < 500:
        details.append(
            {"@type": _BAD_REQUEST, "fieldViolations": [{"field": err.param, "description": err.message}]}
        )
    if details:
        error["details"] = details
    return status, orjson.dumps({"error": error}), headers


def stream_error_event(status: int, kind: str, message: str) -> bytes:
    """An in-stream error as the google-genai SDK raises it: a ``data:`` chunk whose only key is ``error``."""
    status = _http_status(status)
    error = {"code": status, "message": message, "status": status_name(status, kind)}
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def _error_object(body: bytes | str) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, list) and parsed:  # non-SSE streams wrap errors in an array
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    return error if isinstance(error, dict) else parsed


def parse_upstream_error(status: int, body: bytes | str) -> tuple[str, str | None]:
    """``(message, status name)`` from an upstream's error body, whatever shape it has."""
    error = _error_object(body)
    if error is not None:
        message = error.get("message")
        name = error.get("status")
        if isinstance(message, str) and message:
            return message, name if isinstance(name, str) else None
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).strip()
    if not text:
        return f"Gemini answered HTTP {status} with an empty body.", None
    return excerpt(text, 1000), None


def parse_retry_delay(body: bytes | str) -> float | None:
    """Seconds from a ``RetryInfo`` detail (``"30s"``, ``"1.5s"``), else ``None``."""
    error = _error_object(body)
    details = error.get("details") if error is not None else None
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == _RETRY_INFO:
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    return None
    return None
