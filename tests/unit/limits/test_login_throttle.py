"""Login throttling in memory: slowed, then locked until the counter expires, cleared on success."""

from __future__ import annotations

import asyncio

import pytest

from bastion.domain.errors import RateLimitError
from bastion.limits.login import LoginThrottle, MemoryFailureCounter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_slowed_then_locked_then_released() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        MemoryFailureCounter(clock), max_failures=3, lockout_seconds=60, slowdown_seconds=1
    )

    async def scenario() -> None:
        delays = [await throttle.failed("a@example.com", "10.0.0.1") for _ in range(3)]
        assert delays == [1, 2, 3]
        with pytest.raises(RateLimitError) as caught:
            await throttle.check("A@example.com", "10.0.0.2")
        assert caught.value.retry_after == 60
        await throttle.check("b@example.com", "10.0.0.1")  # the address has 12 before it locks
        clock.now += 61
        await throttle.check("a@example.com", "10.0.0.1")

    asyncio.run(scenario())


def test_success_clears_the_account_and_delay_is_capped() -> None:
    throttle = LoginThrottle(MemoryFailureCounter(Clock()), max_failures=100, slowdown_seconds=1)

    async def scenario() -> None:
        for _ in range(10):
            delay = await throttle.failed("a@example.com", None)
        assert delay == 5.0
        await throttle.succeeded("a@example.com")
        assert await throttle.failed("a@example.com", None) == 1

    asyncio.run(scenario())
