"""OpenAI error envelopes: rendering Bastion's errors for OpenAI clients, reading upstream ones.

The OpenAI SDK picks its exception class from the HTTP status alone and reads ``message``,
``type``, ``param`` and ``code`` from ``body["error"]``; the ``type``/``code`` strings below are the
conventional ones (protocols.md §1.5 and §4.5).
"""

from __future__ import annotations

import math
import re

import orjson

from bastion.domain.errors import BastionError, kind_for_status
from bastion.protocols.excerpt import excerpt
from bastion.protocols.sse import encode_event

__all__ = ["code_for_status", "error_kind", "parse_upstream_error", "render_error", "stream_error_event"]

#: status -> (type, default code)
_BY_STATUS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    403: ("permission_error", None),
    404: ("invalid_request_error", None),
    408: ("timeout", None),
    413: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("service_unavailable", None),
    504: ("timeout", None),
}

#: OpenAI error ``type``/``code`` strings -> Bastion's surface-neutral kinds.
_KIND_BY_TYPE = {
    "invalid_request_error": "invalid_request",
    "authentication_error": "authentication",
    "invalid_api_key": "authentication",
    "permission_error": "permission",
    "not_found_error": "not_found",
    "model_not_found": "not_found",
    "rate_limit_error": "rate_limit",
    "rate_limit_exceeded": "rate_limit",
    "insufficient_quota": "billing",
    "server_error": "api_error",
    "api_error": "api_error",
    "service_unavailable": "overloaded",
    "overloaded_error": "overloaded",
    "timeout": "timeout",
}


# Upstream messages sometimes echo (part of) the key that was used; never pass that on.
_SECRETS = re.compile(r"\b(?:sk-(?:ant-|proj-)?|AIza|gsk_|xai-)[A-Za-z0-9_\-*]{6,}")
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_EXCERPT = 300


def _classify(status: int) -> tuple[int, str, str | None]:
    if status == 529:  # Anthropic's "overloaded": other tools treat unknown codes badly
        status = 503
    found = _BY_STATUS.get(status)
    if found is None:
        found = ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    return status, found[0], found[1]


def render_error(err: BastionError) -> tuple[int, bytes, dict[str, str]]:
    """``(status, body, headers)`` of the OpenAI error response for ``err``."""
    status, kind, code = _classify(err.status)
    body = orjson.dumps(
        {"error": {"message": err.message, "type": kind, "param": err.param, "code": err.code or code}}
    )
    headers: dict[str, str] = {}
    if err.retry_after is not None and err.retry_after > 0:
        headers["retry-after"] = str(math.ceil(err.retry_after))
        headers["retry-after-ms"] = str(math.ceil(err.retry_after * 1000))
    if not err.retryable:
        headers["x-should-retry"] = "false"
    return status, body, headers


def code_for_status(status: int) -> str | None:
    """The OpenAI error ``code`` a failure with this status carries (``None`` for most)."""
    return _classify(status)[2]


def stream_error_event(status: int, kind: str, message: str) -> bytes:
    """The in-band SSE frame that ends a stream which failed after the 200."""
    _, error_type, code = _classify(status)
    if status not in _BY_STATUS and kind == "overloaded":
        error_type = "service_unavailable"
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return encode_event(orjson.dumps(payload))


def error_kind(status: int, error_type: str | None = None) -> str:
    """Bastion's kind for an OpenAI-style error: from its ``type`` when known, else its status."""
    if error_type is not None:
        found = _KIND_BY_TYPE.get(error_type)
        if found is not None:
            return found
    return kind_for_status(status)


def parse_upstream_error(status: int, body: bytes) -> tuple[str, str | None]:
    """``(message, code)`` from an OpenAI-style upstream error body, whatever the body holds."""
    message: object = None
    code: object = None
    try:
        data: object = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail")
            code = err.get("code")
        elif isinstance(err, str):
            message = err
    if not isinstance(message, str) or not message:
        text = _SPACES.sub(" ", _TAGS.sub(" ", body.decode("utf-8", "replace"))).strip()
        message = excerpt(text, _EXCERPT)
        if not message:
            message = f"The provider answered with HTTP {status} and no error message."
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    return _SECRETS.sub("[redacted]", message), code if isinstance(code, str) else None
