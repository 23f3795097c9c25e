"""Retry decisions and waits: which errors are retried, where, and how long to wait first."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    InternalError,
    InvalidRequestError,
    RateLimitError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeoutError,
)
from bastion.gateway.retry import RetryPolicy, may_try_elsewhere, should_retry

_RETRIED_STATUSES = [408, 409, 429, 500, 502, 503, 504, 529]
_MOVE_ON_STATUSES = [401, 403, 404]
_FINAL_STATUSES = [400, 402, 413, 422]


@pytest.mark.parametrize("status", _RETRIED_STATUSES)
def test_transient_upstream_statuses_are_retried(status: int) -> None:
    """408, 409, 429, 5xx and 529 from the provider are retried and may go elsewhere."""
    err = UpstreamError("x", status=status)
    assert should_retry(err)
    assert may_try_elsewhere(err)


@pytest.mark.parametrize("status", _MOVE_ON_STATUSES)
def test_credential_and_model_errors_move_on_without_retrying(status: int) -> None:
    """401, 403 and 404 are not retried on the same deployment but another may be tried."""
    err = UpstreamError("x", status=status)
    assert not should_retry(err)
    assert may_try_elsewhere(err)


@pytest.mark.parametrize("status", _FINAL_STATUSES)
def test_request_errors_are_final(status: int) -> None:
    """Errors in the request itself (400, 402, 413, 422) are neither retried nor tried elsewhere."""
    err = UpstreamError("x", status=status)
    assert not should_retry(err)
    assert not may_try_elsewhere(err)


@pytest.mark.parametrize("err", [UpstreamConnectionError("down"), UpstreamTimeoutError("slow")])
def test_connection_errors_and_timeouts_are_retried(err: BastionError) -> None:
    """A broken connection or a timeout is retried."""
    assert should_retry(err)
    assert may_try_elsewhere(err)


@pytest.mark.parametrize(
    "err",
    [InvalidRequestError("bad"), AuthenticationError("who"), RateLimitError("ours"), InternalError("bug")],
)
def test_errors_raised_by_bastion_itself_are_not_retried(err: BastionError) -> None:
    """Bastion's own errors (even a 429 or 500 of its own) never trigger an upstream retry."""
    assert not should_retry(err)
    assert not may_try_elsewhere(err)


def test_retry_after_hint_is_honoured() -> None:
    """A provider's retry-after is the wait, whatever the backoff would be."""
    policy = RetryPolicy(base=0.5)
    assert policy.wait(0, UpstreamError("x", status=429, retry_after=7.5)) == 7.5
    assert policy.wait(3, UpstreamError("x", status=429, retry_after=0.0)) == 0.0


def test_retry_after_below_min_wait_is_raised_to_min_wait() -> None:
    """The configured minimum wait applies to a shorter retry-after hint."""
    policy = RetryPolicy(min_wait=3.0)
    assert policy.wait(0, UpstreamError("x", status=429, retry_after=1.0)) == 3.0


def test_retry_after_above_a_minute_means_do_not_wait() -> None:
    """A hint above 60 s returns None (move on); exactly 60 s is still honoured."""
    policy = RetryPolicy()
    assert policy.wait(0, UpstreamError("x", status=429, retry_after=60.001)) is None
    assert policy.wait(0, UpstreamError("x", status=429, retry_after=3600)) is None
    assert policy.wait(0, UpstreamError("x", status=429, retry_after=60.0)) == 60.0


@pytest.mark.parametrize(
    ("attempt", "full"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (30, 8.0)]
)
@pytest.mark.parametrize("jitter", [0.75, 1.0])
def test_backoff_doubles_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch, attempt: int, full: float, jitter: float
) -> None:
    """Without a hint the wait is base * 2**attempt, capped, times the jitter factor."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return jitter

    monkeypatch.setattr(random, "uniform", uniform)
    wait = RetryPolicy(base=0.5, cap=8.0).wait(attempt, UpstreamError("x", status=503))
    assert drawn == [(0.75, 1.0)]
    assert wait == pytest.approx(full * jitter)


@given(attempt=st.integers(0, 40), base=st.floats(0.01, 2.0), cap=st.floats(0.01, 30.0))
def test_backoff_stays_within_jitter_bounds(attempt: int, base: float, cap: float) -> None:
    """Every jittered wait lies in [0.75, 1] x min(base * 2**attempt, cap)."""
    full = min(base * 2.0**attempt, cap)
    wait = RetryPolicy(base=base, cap=cap).wait(attempt, UpstreamConnectionError("down"))
    assert wait is not None
    assert 0.75 * full - 1e-12 <= wait <= full + 1e-12


def test_backoff_is_never_below_min_wait() -> None:
    """A short backoff is raised to min_wait."""
    policy = RetryPolicy(base=0.01, min_wait=2.0)
    assert policy.wait(0, UpstreamTimeoutError("slow")) == 2.0


def test_backoff_is_jittered() -> None:
    """Repeated waits for the same attempt are not all identical."""
    policy = RetryPolicy(base=1.0)
    waits = {policy.wait(2, UpstreamError("x", status=500)) for _ in range(50)}
    assert len(waits) > 1
