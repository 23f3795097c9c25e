"""Unit tests for bastion.protocols.openai.errors."""

from __future__ import annotations

import orjson
import pytest

from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    InternalError,
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    UpstreamError,
    UpstreamTimeoutError,
)
from bastion.protocols.openai.errors import error_kind, parse_upstream_error, render_error, stream_error_event
from bastion.protocols.sse import parse_frame


@pytest.mark.parametrize(
    ("err", "status", "kind", "code"),
    [
        (InvalidRequestError("bad", param="messages"), 400, "invalid_request_error", None),
        (AuthenticationError("who?"), 401, "invalid_request_error", "invalid_api_key"),
        (PermissionDeniedError("no"), 403, "permission_error", None),
        (NotFoundError("no such path"), 404, "invalid_request_error", None),
        (ModelNotFoundError("gpt-9", ["a"]), 404, "invalid_request_error", "model_not_found"),
        (RequestTooLargeError("big"), 413, "invalid_request_error", None),
        (RateLimitError("slow"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (RateLimitError("budget", code="insufficient_quota"), 429, "rate_limit_error", "insufficient_quota"),
        (InternalError("bug"), 500, "server_error", None),
        (UpstreamError("upstream bad gateway", status=502), 502, "server_error", None),
        (UpstreamError("busy", status=503), 503, "service_unavailable", None),
        (UpstreamError("overloaded", status=529), 503, "service_unavailable", None),
        (UpstreamTimeoutError("slow upstream"), 504, "timeout", None),
        (UpstreamError("conflict", status=409), 409, "invalid_request_error", None),
    ],
)
def test_render_error_status_type_and_code(
    err: BastionError, status: int, kind: str, code: str | None
) -> None:
    """Each error renders with the conventional OpenAI status, type and code."""
    got_status, body, _ = render_error(err)
    assert got_status == status
    assert orjson.loads(body) == {
        "error": {"message": err.message, "type": kind, "param": err.param, "code": code}
    }


def test_render_error_param_is_passed() -> None:
    """The offending field is named in param."""
    _, body, _ = render_error(InvalidRequestError("bad", param="messages[0].role"))
    assert orjson.loads(body)["error"]["param"] == "messages[0].role"


def test_render_error_retry_headers() -> None:
    """retry_after gives retry-after (whole seconds) and retry-after-ms; no x-should-retry if retryable."""
    _, _, headers = render_error(RateLimitError("slow", retry_after=1.2))
    assert headers == {"retry-after": "2", "retry-after-ms": "1200"}


def test_render_error_not_retryable_says_so() -> None:
    """Errors a retry cannot fix carry x-should-retry: false."""
    _, _, headers = render_error(InvalidRequestError("bad"))
    assert headers == {"x-should-retry": "false"}


def test_stream_error_event_is_one_sse_data_frame() -> None:
    """The in-band error is one data frame with the OpenAI error envelope."""
    frame = stream_error_event(529, "overloaded", "upstream overloaded")
    assert frame.endswith(b"\n\n")
    event, data = parse_frame(frame)
    assert event is None
    assert data is not None
    assert orjson.loads(data) == {
        "error": {
            "message": "upstream overloaded",
            "type": "service_unavailable",
            "param": None,
            "code": None,
        }
    }


def test_stream_error_event_uses_kind_for_unlisted_status() -> None:
    """An overloaded kind on an unlisted 5xx status still reads as service_unavailable."""
    _, data = parse_frame(stream_error_event(502, "overloaded", "x"))
    assert data is not None
    assert orjson.loads(data)["error"]["type"] == "service_unavailable"


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (429, "insufficient_quota", "billing"),
        (500, "rate_limit_error", "rate_limit"),
        (500, "mystery", "api_error"),
        (418, None, "invalid_request"),
        (529, None, "overloaded"),
        (401, None, "authentication"),
    ],
)
def test_error_kind(status: int, error_type: str | None, kind: str) -> None:
    """The kind comes from the OpenAI type when known, else from the status."""
    assert error_kind(status, error_type) == kind


def test_parse_upstream_error_openai_envelope() -> None:
    """The message and code come from an OpenAI envelope."""
    body = orjson.dumps(
        {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    )
    assert parse_upstream_error(429, body) == ("Rate limit reached", "rate_limit_exceeded")


def test_parse_upstream_error_integer_code_and_bare_shapes() -> None:
    """Integer codes become strings; bare messages, string errors and FastAPI details are read."""
    assert parse_upstream_error(502, b'{"error":{"message":"bad","code":502}}') == ("bad", "502")
    assert parse_upstream_error(400, b'{"message":"plain"}') == ("plain", None)
    assert parse_upstream_error(400, b'{"error":"just text"}') == ("just text", None)
    assert parse_upstream_error(422, b'{"detail":"Not allowed"}') == ("Not allowed", None)
    assert parse_upstream_error(400, b'[{"error":{"message":"listed"}}]') == ("listed", None)


def test_parse_upstream_error_html_body_gives_short_text() -> None:
    """A non-JSON body falls back to a short text excerpt without tags."""
    html = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 1000 + b"</body></html>"
    message, code = parse_upstream_error(502, html)
    assert message.startswith("502 Bad Gateway")
    assert "<" not in message
    assert len(message) <= 303
    assert code is None


def test_parse_upstream_error_empty_body() -> None:
    """An empty body still gives a message with the status."""
    assert parse_upstream_error(503, b"") == (
        "The provider answered with HTTP 503 and no error message.",
        None,
    )


def test_parse_upstream_error_redacts_keys() -> None:
    """Keys echoed by the provider never reach the client."""
    message = "Incorrect API key provided: sk-proj-abc123****wxyz. See docs."
    body = orjson.dumps({"error": {"message": message, "code": "invalid_api_key"}})
    message, _ = parse_upstream_error(401, body)
    assert "sk-proj" not in message
    assert "wxyz" not in message
    assert message == "Incorrect API key provided: [redacted]. See docs."
