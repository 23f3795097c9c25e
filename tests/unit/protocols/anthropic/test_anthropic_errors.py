"""The Anthropic error envelope: render_error, stream_error_event, parse_upstream_error."""

from __future__ import annotations

import anthropic.types
import orjson
import pytest

from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    InternalError,
    InvalidRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeoutError,
)
from bastion.protocols.anthropic.errors import (
    error_type,
    parse_upstream_error,
    render_error,
    status_and_kind,
    stream_error_event,
)
from bastion.protocols.sse import parse_frame


@pytest.mark.parametrize(
    ("err", "status", "wire_type"),
    [
        (InvalidRequestError("bad"), 400, "invalid_request_error"),
        (AuthenticationError("who"), 401, "authentication_error"),
        (PermissionDeniedError("no"), 403, "permission_error"),
        (ModelNotFoundError("m", []), 404, "not_found_error"),
        (RequestTooLargeError("big"), 413, "request_too_large"),
        (RateLimitError("slow"), 429, "rate_limit_error"),
        (UpstreamError("pay", status=402), 402, "billing_error"),
        (InternalError("bug"), 500, "api_error"),
        (UpstreamError("busy", status=529), 529, "overloaded_error"),
        (UpstreamError("busy", status=503), 503, "overloaded_error"),
        (UpstreamTimeoutError("slow"), 504, "timeout_error"),
        (UpstreamConnectionError("down"), 502, "api_error"),
        (UpstreamError("teapot", status=418), 418, "invalid_request_error"),
    ],
)
def test_render_error_types_and_status(err: BastionError, status: int, wire_type: str) -> None:
    """Each error kind gets its Anthropic type and keeps its own status."""
    got_status, body, _ = render_error(err)
    assert got_status == status
    parsed = orjson.loads(body)
    assert parsed == {"type": "error", "error": {"type": wire_type, "message": err.message}}


def test_render_error_validates_with_the_sdk_type() -> None:
    """The body is an ErrorResponse for the official SDK, request_id included when given."""
    _, body, _ = render_error(RateLimitError("slow down"), request_id="req_1")
    parsed = anthropic.types.ErrorResponse.model_validate(orjson.loads(body))
    assert parsed.request_id == "req_1"
    assert parsed.error.type == "rate_limit_error"


def test_render_error_headers() -> None:
    """retry-after is whole seconds rounded up; x-should-retry is false when retrying cannot help."""
    _, _, headers = render_error(RateLimitError("slow", retry_after=1.2))
    assert headers == {"retry-after": "2"}
    _, _, headers = render_error(InvalidRequestError("bad"))
    assert headers == {"x-should-retry": "false"}
    _, _, headers = render_error(UpstreamError("busy", status=529))
    assert headers == {}


def test_error_type_falls_back_on_status() -> None:
    """An unknown kind takes its type from the status."""
    assert error_type("weird", 409) == "conflict_error"
    assert error_type("weird", 422) == "invalid_request_error"
    assert error_type("weird", 502) == "api_error"


@pytest.mark.parametrize(
    ("wire_type", "expected"),
    [
        ("overloaded_error", (529, "overloaded")),
        ("api_error", (500, "api_error")),
        ("rate_limit_error", (429, "rate_limit")),
        ("invalid_request_error", (400, "invalid_request")),
        ("billing_error", (402, "billing")),
        ("timeout_error", (504, "timeout")),
        ("brand_new_error", (500, "api_error")),
        (None, (500, "api_error")),
    ],
)
def test_status_and_kind(wire_type: str | None, expected: tuple[int, str]) -> None:
    """An Anthropic error type maps back to a status and a Bastion kind."""
    assert status_and_kind(wire_type) == expected


def test_stream_error_event() -> None:
    """The in-stream error is an `event: error` frame with the Anthropic envelope."""
    frame = stream_error_event(529, "overloaded", "Overloaded")
    event, data = parse_frame(frame)
    assert event == "error"
    assert data is not None
    assert orjson.loads(data) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert frame.endswith(b"\n\n")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"r"}',
            ("Overloaded", "overloaded_error"),
        ),
        (
            b'{"error":{"message":"Bad key","type":"invalid_request_error"}}',
            ("Bad key", "invalid_request_error"),
        ),
        (b'{"error":"quota gone"}', ("quota gone", None)),
        (b'{"message":"nope"}', ("nope", None)),
        (b'{"detail":"Not Found"}', ("Not Found", None)),
        (b"<html>502 Bad Gateway</html>", ("<html>502 Bad Gateway</html>", None)),
        (b"", ("The upstream provider answered with HTTP 503 and no error message", None)),
        (b"   ", ("The upstream provider answered with HTTP 503 and no error message", None)),
    ],
)
def test_parse_upstream_error(body: bytes, expected: tuple[str, str | None]) -> None:
    """Upstream error bodies of any shape give a message and, if known, the type."""
    assert parse_upstream_error(503, body) == expected


def test_parse_upstream_error_trims_long_bodies() -> None:
    """A huge non-JSON body is cut to a readable length."""
    message, kind = parse_upstream_error(500, b"x" * 10_000)
    assert len(message) == 2000
    assert kind is None
