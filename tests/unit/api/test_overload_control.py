"""Overload control's decision, fed samples by hand: no clock, no sleeps."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import generate_latest

from bastion.api import overload as overload_module
from bastion.api.overload import Overload
from bastion.domain.errors import OverloadedError
from bastion.observability.metrics import Metrics
from bastion.settings import OverloadSettings


def _overload(**settings: float) -> tuple[Overload, Metrics]:
    """Overload control with a 30 ms target unless told otherwise."""
    settings.setdefault("max_event_loop_lag_ms", 30.0)
    metrics = Metrics()
    return Overload(OverloadSettings(**settings), metrics), metrics  # type: ignore[arg-type]


def _feed(overload: Overload, lags: list[float], start: float = 100.0) -> list[bool]:
    """Feed one sample every 10 ms; whether it was shedding after each."""
    states = []
    for step, lag in enumerate(lags):
        overload.observe(lag, start + step * 0.01)
        states.append(overload.shedding)
    return states


def test_one_late_sample_never_sheds_a_healthy_gateway() -> None:
    """A collector pause or one big body makes one sample late; that is not a queue."""
    overload, _ = _overload()
    assert _feed(overload, [0.001, 0.5, 0.001, 0.2, 0.002, 0.04, 0.001]) == [False] * 7


def test_five_late_samples_in_a_row_start_shedding_and_one_on_time_stops_it() -> None:
    overload, _ = _overload()
    states = _feed(overload, [0.05, 0.04, 0.06, 0.031, 0.05, 0.05, 0.01])
    assert states == [False, False, False, False, True, True, False]


def test_right_after_shedding_one_late_sample_starts_it_again() -> None:
    """The queue is known to come back within a second: no need to wait for five samples."""
    overload, _ = _overload()
    _feed(overload, [0.05] * 5 + [0.01], start=100.0)
    assert _feed(overload, [0.04], start=100.5) == [True]
    overload.observe(0.01, 100.6)
    assert _feed(overload, [0.04, 0.04], start=102.0) == [False, False]  # a second later: calm again


def test_while_shedding_new_calls_get_a_503_with_retry_after_and_are_counted() -> None:
    overload, metrics = _overload(retry_after_seconds=2.0)
    _feed(overload, [0.1] * 5)
    refused = overload.try_enter("anthropic")
    assert isinstance(refused, OverloadedError)
    assert (refused.status, refused.kind, refused.retry_after, refused.retryable) == (
        503,
        "overloaded",
        2.0,
        True,
    )
    assert "retry after 2 s" in refused.message
    assert overload.in_flight == 0
    text = generate_latest(metrics.registry).decode()
    assert 'bastion_requests_shed_total{family="anthropic",reason="event_loop_lag"} 1.0' in text


def test_a_fixed_cap_on_calls_in_progress() -> None:
    overload, metrics = _overload(max_in_flight=2)
    assert overload.try_enter("openai") is None and overload.try_enter("openai") is None
    refused = overload.try_enter("management")
    assert isinstance(refused, OverloadedError) and overload.in_flight == 2
    overload.leave()
    assert overload.try_enter("openai") is None
    text = generate_latest(metrics.registry).decode()
    assert 'bastion_requests_shed_total{family="management",reason="in_flight"} 1.0' in text


def test_lag_shedding_can_be_turned_off() -> None:
    overload, _ = _overload(max_event_loop_lag_ms=0)
    assert overload.watches_lag is False
    assert _feed(overload, [5.0] * 10)[-1] is False
    assert overload.try_enter("openai") is None  # and no count cap by default


def test_an_idle_process_takes_no_samples_until_a_call_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch samples only while calls are in progress (or being refused): an idle gateway's
    event loop is not woken a hundred times a second. With the sampling period at zero, a watch
    that samples would take one sample per turn of the loop."""
    monkeypatch.setattr(overload_module, "_PERIOD", 0.0)
    overload, _ = _overload()
    taken: list[float] = []
    original = overload.observe
    monkeypatch.setattr(overload, "observe", lambda lag, now: (taken.append(lag), original(lag, now)))

    async def turns(n: int) -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    async def scenario() -> tuple[int, int, int]:
        watch = asyncio.ensure_future(overload.watch())  # a test drives the watch itself
        await turns(50)
        idle = len(taken)
        assert overload.try_enter("openai") is None
        await turns(50)
        busy = len(taken)
        overload.leave()
        await turns(5)
        settled = len(taken)
        await turns(50)
        watch.cancel()
        return idle, busy - idle, len(taken) - settled

    idle, while_busy, after = asyncio.run(scenario())
    assert idle == 0
    assert while_busy >= 10
    assert after == 0


def _periods(overload: Overload, lags: list[float], start: float = 100.0) -> list[float]:
    """Feed samples; the watch's wait before its next sample after each (in ms)."""
    periods = []
    now = start
    for lag in lags:
        now += overload.period + lag
        overload.observe(lag, now)
        periods.append(round(overload.period * 1000, 3))
    return periods


def test_calm_samples_space_out_and_the_first_late_one_brings_back_the_short_period() -> None:
    """A stream's event loop is not woken every 10 ms while it keeps up; a sample a quarter of the
    target late (7.5 ms of 30) samples every 10 ms again, so shedding starts as soon as before."""
    overload, _ = _overload()
    assert overload.period == 0.010
    assert _periods(overload, [0.001, 0.0, 0.002, 0.001, 0.0]) == [20, 40, 80, 80, 80]
    assert _periods(overload, [0.0075, 0.001, 0.03, 0.03, 0.03, 0.03, 0.03]) == [10, 20, 10, 10, 10, 10, 10]
    assert overload.shedding  # five late samples in a row, the first of them after a calm stretch


def test_while_shedding_and_for_a_second_after_it_the_watch_samples_every_10_ms() -> None:
    overload, _ = _overload()
    _feed(overload, [0.05] * 5)
    assert overload.shedding and overload.period == 0.010
    overload.observe(0.001, 100.1)  # back on time: admitting again, but the queue may come back
    assert not overload.shedding and overload.period == 0.010
    overload.observe(0.001, 100.5)
    assert overload.period == 0.010
    overload.observe(0.001, 101.2)  # a second later: calm again
    assert overload.period == 0.020


def test_with_lag_shedding_off_the_period_stays_short() -> None:
    """Lag shedding off: no watch runs (the gauge aside), so nothing to space out."""
    overload, _ = _overload(max_event_loop_lag_ms=0)
    assert _periods(overload, [0.0, 0.0]) == [10, 10]
