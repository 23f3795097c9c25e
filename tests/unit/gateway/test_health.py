"""Deployment health: cooldowns after repeated failures, and recovery once the cooldown is over."""

from __future__ import annotations

from bastion.domain.errors import UpstreamConnectionError, UpstreamError
from bastion.gateway.health import DeploymentHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_more_than_allowed_fails_cools_down_then_recovers() -> None:
    clock = Clock()
    health = DeploymentHealth(allowed_fails=2, cooldown_time=5, clock=clock)
    boom = UpstreamConnectionError("down")
    assert not health.failed("a", boom) and not health.failed("a", boom)
    assert not health.cooling("a")
    assert health.failed("a", boom)
    assert health.cooling("a") and not health.cooling("b")
    clock.now += 5
    assert not health.cooling("a")
    assert not health.failed("a", boom)  # a clean slate after the cooldown


def test_failures_older_than_a_minute_do_not_count() -> None:
    clock = Clock()
    health = DeploymentHealth(allowed_fails=1, cooldown_time=5, clock=clock)
    health.failed("a", UpstreamConnectionError("down"))
    clock.now += 61
    assert not health.failed("a", UpstreamConnectionError("down"))


def test_rate_limited_cools_down_at_once() -> None:
    health = DeploymentHealth(allowed_fails=3, cooldown_time=5, clock=Clock())
    assert health.failed("a", UpstreamError("slow down", status=429))


def test_disabled_cooldowns_never_cool() -> None:
    health = DeploymentHealth(allowed_fails=0, cooldown_time=5, cooldowns=False, clock=Clock())
    assert not health.failed("a", UpstreamError("slow down", status=429))
    assert not health.cooling("a")


def test_latency_is_a_moving_average_and_usage_resets_each_minute() -> None:
    clock = Clock()
    health = DeploymentHealth(allowed_fails=3, cooldown_time=5, clock=clock)
    assert health.latency("a") is None
    health.succeeded("a", 1.0)
    health.succeeded("a", 2.0)
    latency = health.latency("a")
    assert latency is not None and 1.0 < latency < 2.0
    health.used("a", requests=1, tokens=10)
    health.used("a", tokens=5)
    assert health.usage("a") == (1, 15)
    clock.now += 60
    assert health.usage("a") == (0, 0)
