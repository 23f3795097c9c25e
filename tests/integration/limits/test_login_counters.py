"""Failed-login counters: the same answers in memory and in Redis, and Redis failures fail closed."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest
from limits_backends import REDIS_URL, delete_prefix, redis_problem

from bastion.domain.errors import RateLimitError
from bastion.limits.errors import LimitsUnavailableError
from bastion.limits.login import FailureCounter, LoginThrottle, MemoryFailureCounter
from bastion.limits.redis import RedisFailureCounter
from bastion.outbound.resp import RespClient, RespTarget
from support.serve import free_port

Scenario = Callable[[FailureCounter], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def run_with(request: pytest.FixtureRequest) -> Iterator[Callable[[Scenario], None]]:
    prefix = f"bastion:test-login-{uuid.uuid4().hex[:10]}:"
    if request.param == "redis":
        problem = redis_problem()
        if problem is not None:
            if os.environ.get("CI"):
                pytest.fail(problem)
            pytest.skip(problem)

    def run(scenario: Scenario) -> None:
        async def main() -> None:
            if request.param == "memory":
                await scenario(MemoryFailureCounter())
                return
            client = RespClient(RespTarget.from_url(REDIS_URL))
            try:
                await scenario(RedisFailureCounter(client, prefix=prefix))
            finally:
                await client.close()

        asyncio.run(main())

    yield run
    if request.param == "redis":
        delete_prefix(prefix)


def test_counts_expire_and_clear(run_with: Callable[[Scenario], None]) -> None:
    """Each failure counts and pushes the expiry out; clear forgets; an unknown key counts 0."""

    async def scenario(counter: FailureCounter) -> None:
        assert await counter.count("account:a") == (0, 0.0)
        assert [await counter.add("account:a", 60) for _ in range(3)] == [1, 2, 3]
        count, ttl = await counter.count("account:a")
        assert count == 3 and 58 < ttl <= 60
        assert (await counter.count("account:b"))[0] == 0
        await counter.clear("account:a")
        assert await counter.count("account:a") == (0, 0.0)

    run_with(scenario)


def test_the_throttle_locks_on_either_backend(run_with: Callable[[Scenario], None]) -> None:
    async def scenario(counter: FailureCounter) -> None:
        throttle = LoginThrottle(counter, max_failures=2, lockout_seconds=60, slowdown_seconds=0)
        await throttle.failed("a@example.com", "10.0.0.1")
        await throttle.failed("a@example.com", "10.0.0.1")
        with pytest.raises(RateLimitError, match="Too many failed logins"):
            await throttle.check("A@example.com", None)
        await throttle.succeeded("a@example.com")
        await throttle.check("a@example.com", "10.0.0.1")

    run_with(scenario)


def test_an_unreachable_redis_pauses_logins() -> None:
    """Redis down: 503 (logins paused), never an unthrottled login."""

    async def main() -> None:
        client = RespClient(RespTarget.from_url(f"redis://127.0.0.1:{free_port()}/0"))
        throttle = LoginThrottle(RedisFailureCounter(client))
        try:
            with pytest.raises(LimitsUnavailableError, match="Logins are paused"):
                await throttle.check("a@example.com", None)
            with pytest.raises(LimitsUnavailableError, match="Logins are paused"):
                await throttle.failed("a@example.com", None)
        finally:
            await client.close()

    asyncio.run(main())
