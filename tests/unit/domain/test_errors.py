"""The BastionError tree: statuses, kinds, retryability and messages."""

from __future__ import annotations

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
    UnsupportedParameterError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeoutError,
)


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "invalid_request", False),
        (401, "authentication", False),
        (402, "billing", False),
        (403, "permission", False),
        (404, "not_found", False),
        (408, "timeout", True),
        (409, "invalid_request", True),
        (413, "request_too_large", False),
        (418, "invalid_request", False),
        (422, "invalid_request", False),
        (429, "rate_limit", True),
        (500, "api_error", True),
        (502, "api_error", True),
        (503, "overloaded", True),
        (504, "timeout", True),
        (529, "overloaded", True),
        (599, "api_error", True),
    ],
)
def test_upstream_error_kind_and_retryable_follow_status(status: int, kind: str, retryable: bool) -> None:
    """An UpstreamError takes its kind and retryability from the provider's status."""
    err = UpstreamError("provider said no", status=status)
    assert err.status == status
    assert err.kind == kind
    assert err.retryable is retryable


def test_upstream_error_kind_is_per_instance() -> None:
    """Setting kind on one UpstreamError does not change the class or other instances."""
    UpstreamError("x", status=429)
    assert UpstreamError("y", status=400).kind == "invalid_request"
    assert UpstreamError.kind == "api_error"
    assert UpstreamError.retryable is True


def test_upstream_error_keeps_its_details() -> None:
    """retry_after, code and param are kept and the message is the exception text."""
    err = UpstreamError("slow down", status=429, retry_after=2.5, code="rate_limit_exceeded", param="model")
    assert (err.retry_after, err.code, err.param) == (2.5, "rate_limit_exceeded", "model")
    assert str(err) == "slow down"
    assert repr(err) == "UpstreamError(status=429, message='slow down')"


@pytest.mark.parametrize(
    ("cls", "status", "kind", "retryable"),
    [
        (InvalidRequestError, 400, "invalid_request", False),
        (UnsupportedParameterError, 400, "invalid_request", False),
        (AuthenticationError, 401, "authentication", False),
        (PermissionDeniedError, 403, "permission", False),
        (NotFoundError, 404, "not_found", False),
        (RequestTooLargeError, 413, "request_too_large", False),
        (RateLimitError, 429, "rate_limit", True),
        (InternalError, 500, "api_error", True),
        (UpstreamTimeoutError, 504, "timeout", True),
        (UpstreamConnectionError, 502, "api_error", True),
    ],
)
def test_each_error_class_knows_its_status_and_kind(
    cls: type[BastionError], status: int, kind: str, retryable: bool
) -> None:
    """Every error class carries the HTTP status, kind and retryability its renderer needs."""
    err = cls("message")
    assert isinstance(err, BastionError)
    assert (err.status, err.kind, err.retryable) == (status, kind, retryable)


def test_status_can_be_overridden_per_instance() -> None:
    """An explicit status replaces the class default for that instance only."""
    assert InvalidRequestError("x", status=422).status == 422
    assert InvalidRequestError("x").status == 400


def test_model_not_found_lists_the_available_names() -> None:
    """ModelNotFoundError names the requested model and every configured group."""
    err = ModelNotFoundError("gpt-5", ["gpt", "claude"])
    assert err.message == "Model 'gpt-5' is not configured on this gateway. Available models: gpt, claude."
    assert (err.status, err.kind, err.code, err.param) == (404, "not_found", "model_not_found", "model")


def test_model_not_found_with_no_models_says_none() -> None:
    """With no configured groups the message says 'none'."""
    assert "Available models: none." in ModelNotFoundError("m", []).message


def test_model_not_found_truncates_after_fifty_names() -> None:
    """Only the first 50 names are listed, followed by how many more there are."""
    names = [f"model-{i:03d}" for i in range(53)]
    message = ModelNotFoundError("x", names).message
    assert "model-049" in message
    assert "model-050" not in message
    assert message.endswith("model-049 (and 3 more).")


def test_model_not_found_with_exactly_fifty_names_lists_all() -> None:
    """Fifty names are all listed with no 'more' note."""
    message = ModelNotFoundError("x", [f"m{i}" for i in range(50)]).message
    assert message.endswith("m49.")
    assert "more" not in message
