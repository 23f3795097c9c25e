"""Unit tests of bastion.protocols.gemini.errors."""

from __future__ import annotations

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
    UpstreamError,
    UpstreamTimeoutError,
)
from bastion.protocols.gemini.errors import (
    kind_for,
    parse_retry_delay,
    parse_upstream_error,
    render_error,
    status_name,
    stream_error_event,
)


@pytest.mark.parametrize(
    ("err", "status", "name"),
    [
        (InvalidRequestError("bad"), 400, "INVALID_ARGUMENT"),
        (AuthenticationError("who"), 401, "UNAUTHENTICATED"),
        (PermissionDeniedError("no"), 403, "PERMISSION_DENIED"),
        (ModelNotFoundError("m", ["a"]), 404, "NOT_FOUND"),
        (RequestTooLargeError("big"), 413, "INVALID_ARGUMENT"),
        (RateLimitError("slow"), 429, "RESOURCE_EXHAUSTED"),
        (InternalError("bug"), 500, "INTERNAL"),
        (UpstreamError("busy", status=529), 503, "UNAVAILABLE"),
        (UpstreamError("busy", status=503), 503, "UNAVAILABLE"),
        (UpstreamTimeoutError("late"), 504, "DEADLINE_EXCEEDED"),
        (UpstreamError("pay", status=402), 402, "FAILED_PRECONDITION"),
        (UpstreamError("teapot", status=418), 418, "INVALID_ARGUMENT"),
        (UpstreamError("gateway", status=502), 502, "UNAVAILABLE"),
    ],
)
def test_render_error_status_names(err: BastionError, status: int, name: str) -> None:
    """Each error gets the Gemini status name for its HTTP status; 529 is sent as 503."""
    code, body, _ = render_error(err)
    error = orjson.loads(body)["error"]
    assert code == status
    assert error["code"] == status
    assert error["status"] == name
    assert error["message"] == err.message


def test_render_rate_limit_has_retry_info_and_header() -> None:
    """A rate limit with retry_after carries a RetryInfo detail and a retry-after header, rounded up."""
    code, body, headers = render_error(RateLimitError("slow down", retry_after=2.2))
    assert code == 429
    assert orjson.loads(body)["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}
    ]
    assert headers == {"retry-after": "3"}


def test_render_bad_param_has_field_violation() -> None:
    """A 400 naming a parameter carries a BadRequest field violation; no details otherwise."""
    _, body, headers = render_error(InvalidRequestError("'contents' is required.", param="contents"))
    assert orjson.loads(body)["error"]["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "contents", "description": "'contents' is required."}],
        }
    ]
    assert headers == {}
    assert "details" not in orjson.loads(render_error(InternalError("x"))[1])["error"]


def test_status_name_kind_refines() -> None:
    """An overloaded kind is UNAVAILABLE whatever the status; billing is FAILED_PRECONDITION."""
    assert status_name(500, "overloaded") == "UNAVAILABLE"
    assert status_name(400, "billing") == "FAILED_PRECONDITION"
    assert status_name(599) == "INTERNAL"


def test_stream_error_event_is_one_data_line() -> None:
    """The in-stream error is a single data: line with the error object only."""
    out = stream_error_event(429, "rate_limit", "Quota exceeded")
    assert out == b'data: {"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}\n\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}',
            ("API key not valid.", "INVALID_ARGUMENT"),
        ),
        (
            b'[{"error":{"code":503,"message":"Overloaded","status":"UNAVAILABLE"}}]',
            ("Overloaded", "UNAVAILABLE"),
        ),
        (b'{"message":"flat"}', ("flat", None)),
        ("<html>Bad Gateway</html>", ("<html>Bad Gateway</html>", None)),
        (b"  ", ("Gemini answered HTTP 502 with an empty body.", None)),
        (b'{"error":{"code":500}}', ('{"error":{"code":500}}', None)),
    ],
)
def test_parse_upstream_error(body: bytes | str, expected: tuple[str, str | None]) -> None:
    """The message and status name are found in any body shape; non-JSON text is kept as the message."""
    assert parse_upstream_error(502, body) == expected


def test_parse_upstream_error_truncates_long_text() -> None:
    """A huge non-JSON body is cut to a readable length."""
    message, _ = parse_upstream_error(500, b"x" * 5000)
    assert len(message) == 1000 and message.endswith("...")


@pytest.mark.parametrize(
    ("body", "delay"),
    [
        (
            b'{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}',
            30.0,
        ),
        (
            b'{"error":{"details":[{"@type":"x"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}',
            1.5,
        ),
        (
            b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}]}}',
            None,
        ),
        (
            b'{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"xs"}]}}',
            None,
        ),
        (b'{"error":{"code":429}}', None),
        (b"not json", None),
    ],
)
def test_parse_retry_delay(body: bytes, delay: float | None) -> None:
    """RetryInfo's retryDelay is read in seconds; anything else gives None."""
    assert parse_retry_delay(body) == delay


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (400, "INVALID_ARGUMENT", "invalid_request"),
        (400, "FAILED_PRECONDITION", "invalid_request"),
        (429, "RESOURCE_EXHAUSTED", "rate_limit"),
        (503, "UNAVAILABLE", "overloaded"),
        (500, "INTERNAL", "api_error"),
        (529, None, "overloaded"),
        (429, None, "rate_limit"),
        (504, None, "timeout"),
        (404, None, "invalid_request"),
        (500, None, "api_error"),
    ],
)
def test_kind_for(status: int, name: str | None, kind: str) -> None:
    """The status name decides the kind when known, else the HTTP status."""
    assert kind_for(status, name) == kind
