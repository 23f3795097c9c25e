"""Rate limits: rpm and tpm buckets, parallel slots released on every path, all-or-none scopes."""

from __future__ import annotations

import asyncio
import math

import pytest
from limits_backends import Backend

from bastion.domain.errors import RateLimitError
from bastion.limits.admission import Admission, RateLimit, Refusal
from bastion.limits.backend import Limits
from bastion.limits.errors import LimitsUnavailableError
from bastion.limits.redis import redis_limits


async def _admit(limits: Limits, *rate_limits: RateLimit, tokens: int = 0) -> Admission:
    outcome = await limits.rates.acquire_many(list(rate_limits), tokens=tokens)
    assert isinstance(outcome, Admission), outcome
    return outcome


async def _refuse(limits: Limits, *rate_limits: RateLimit, tokens: int = 0) -> Refusal:
    outcome = await limits.rates.acquire_many(list(rate_limits), tokens=tokens)
    assert isinstance(outcome, Refusal), outcome
    return outcome


def test_rpm_admits_exactly_the_limit(backend: Backend) -> None:
    """N requests pass, request N+1 is refused with the rpm, the usage and 60/N seconds to wait."""

    async def main(limits: Limits) -> None:
        for _ in range(5):
            assert isinstance(
                await limits.rates.acquire("key:a", rpm=5, tpm=None, parallel=None, tokens=0), Admission
            )
        refusal = await limits.rates.acquire("key:a", rpm=5, tpm=None, parallel=None, tokens=0)
        assert refusal == Refusal("key:a", "rpm", 5, 5, 12.0)

    backend.run(main)


def test_rpm_on_the_server_clock(backend: Backend) -> None:
    """With the real clock (Redis TIME) the limit holds the same way."""

    async def main(limits: Limits) -> None:
        for _ in range(3):
            await _admit(limits, RateLimit("key:a", rpm=3))
        refusal = await _refuse(limits, RateLimit("key:a", rpm=3))
        assert refusal.kind == "rpm" and refusal.used == 3
        assert refusal.retry_after is not None and 19.0 < refusal.retry_after <= 20.0

    backend.run(main, clock=None)


def test_refused_requests_are_not_counted(backend: Backend) -> None:
    """Hammering a full bucket costs nothing: once half a window drains, exactly one more passes."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", rpm=2)
        await _admit(limits, limit)
        await _admit(limits, limit)
        for _ in range(20):
            await _refuse(limits, limit)
        backend.clock.advance(30)
        await _admit(limits, limit)
        refusal = await _refuse(limits, limit)
        assert refusal.used == 2 and refusal.retry_after == pytest.approx(30.0)

    backend.run(main)


def test_rpm_holds_across_processes_under_concurrency(backend: Backend) -> None:
    """Fifty concurrent requests split over two processes: exactly the rpm pass."""

    async def main(limits: Limits) -> None:
        peer = backend.peer(limits)
        stores = [limits, peer] * 25
        outcomes = await asyncio.gather(
            *(store.rates.acquire("key:a", rpm=20, tpm=None, parallel=None, tokens=0) for store in stores)
        )
        assert sum(isinstance(outcome, Admission) for outcome in outcomes) == 20

    backend.run(main)


def test_tpm_counts_tokens_and_release_corrects_them(backend: Backend) -> None:
    """The estimate counts at admission; releasing with the real count frees the difference."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", tpm=1000)
        first = await _admit(limits, limit, tokens=800)
        refusal = await _refuse(limits, limit, tokens=300)
        assert (refusal.kind, refusal.limit, refusal.used) == ("tpm", 1000, 800)
        assert refusal.retry_after == pytest.approx(6.0)  # 100 tokens over, at 1000 per 60 s
        await limits.rates.release(first, actual_tokens=100)
        await _admit(limits, limit, tokens=300)
        refusal = await _refuse(limits, limit, tokens=700)
        assert refusal.used == 400

    backend.run(main)


def test_tpm_correction_upwards_counts_the_excess(backend: Backend) -> None:
    """A call that used more tokens than estimated fills the bucket by the real count."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", tpm=1000)
        admission = await _admit(limits, limit, tokens=100)
        await limits.rates.release(admission, actual_tokens=950)
        refusal = await _refuse(limits, limit, tokens=100)
        assert refusal.used == 950

    backend.run(main)


def test_oversized_request_passes_only_on_an_empty_bucket(backend: Backend) -> None:
    """A request larger than the tpm is not refused forever, but only runs alone."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", tpm=100)
        await _admit(limits, limit, tokens=500)
        refusal = await _refuse(limits, limit, tokens=1)
        assert refusal.retry_after == pytest.approx((500 - 99) * 60 / 100)

    backend.run(main)


def test_zero_limit_never_admits(backend: Backend) -> None:
    """A limit of 0 refuses every request, with no retry hint and a message naming the setting."""

    async def main(limits: Limits) -> None:
        refusal = await _refuse(limits, RateLimit("key:a", rpm=0))
        assert refusal.retry_after is None
        assert "rpm_limit is 0" in refusal.message

    backend.run(main)


class _UpstreamFailed(Exception):
    pass


async def _call(
    limits: Limits, admission: Admission, outcome: str, started: asyncio.Event, proceed: asyncio.Event
) -> None:
    """A request the way the gateway runs one: release in ``finally``, whatever happens."""
    try:
        started.set()
        await proceed.wait()  # the upstream call; a client hang-up cancels it here
        if outcome == "error":
            raise _UpstreamFailed
        if outcome == "timeout":
            raise TimeoutError
    finally:
        await limits.rates.release(admission, actual_tokens=10)


_RAISED = {
    "success": type(None),
    "error": _UpstreamFailed,
    "timeout": TimeoutError,
    "disconnect": asyncio.CancelledError,
}


@pytest.mark.parametrize("outcome", list(_RAISED))
def test_parallel_slot_is_released_on_every_path(backend: Backend, outcome: str) -> None:
    """Success, upstream error, timeout and client disconnect all give the parallel slot back."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", parallel=1)
        for _ in range(3):
            started, proceed = asyncio.Event(), asyncio.Event()
            admission = await _admit(limits, limit, tokens=10)
            task = asyncio.create_task(_call(limits, admission, outcome, started, proceed))
            await started.wait()  # a task cancelled before it starts never runs its finally
            refusal = await _refuse(limits, limit)
            assert (refusal.kind, refusal.limit, refusal.used) == ("parallel", 1, 1)
            if outcome == "disconnect":
                task.cancel()
            else:
                proceed.set()
            (result,) = await asyncio.gather(task, return_exceptions=True)
            assert isinstance(result, _RAISED[outcome])
        await _admit(limits, limit)

    backend.run(main)


def test_release_cancelled_midway_still_frees_the_slot(backend: Backend) -> None:
    """A release interrupted by cancellation (shutdown, a second cancel) still completes."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", parallel=1)
        admission = await _admit(limits, limit)
        release = asyncio.create_task(limits.rates.release(admission, actual_tokens=0))
        await asyncio.sleep(0)  # let the release start, then interrupt it
        release.cancel()
        await asyncio.gather(release, return_exceptions=True)
        if backend.is_redis:  # the memory release has no await: it is already done
            assert release.cancelled()
        await limits.close()  # waits for the shielded release
        await _admit(backend.peer(limits), limit)

    backend.run(main)


def test_double_release_is_a_noop(backend: Backend) -> None:
    """Releasing twice, even concurrently, corrects tpm and frees slots once."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", tpm=1000, parallel=2)
        first = await _admit(limits, limit, tokens=500)
        await asyncio.gather(*(limits.rates.release(first, actual_tokens=500) for _ in range(3)))
        assert first.released
        await _admit(limits, limit, tokens=500)
        await limits.rates.release(first, actual_tokens=0)  # would free 500 tokens if applied
        refusal = await _refuse(limits, limit, tokens=500)
        assert (refusal.kind, refusal.used) == ("tpm", 1000)

    backend.run(main)


def test_expired_lease_frees_the_slot(backend: Backend) -> None:
    """A holder that never releases (a crashed process) loses its slot when the lease ends."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", parallel=1)
        await _admit(limits, limit)
        await _refuse(limits, limit)
        backend.clock.advance(30)
        await _admit(limits, limit)

    backend.run(main, lease_ttl=30)


def test_renew_extends_a_live_lease_only(backend: Backend) -> None:
    """A long call renews its lease; once a lease has expired, renewing reports it lost."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", parallel=1)
        holder = await _admit(limits, limit)
        backend.clock.advance(20)
        assert await limits.rates.renew(holder)
        backend.clock.advance(20)
        await _refuse(limits, limit)
        backend.clock.advance(11)
        assert not await limits.rates.renew(holder)
        await _admit(limits, limit)

    backend.run(main, lease_ttl=30)


def test_acquire_many_is_all_or_none(backend: Backend) -> None:
    """A request refused by the team counts nothing against the key it also passed."""

    async def main(limits: Limits) -> None:
        key, team = RateLimit("key:a", rpm=10, parallel=2), RateLimit("team:t", rpm=1)
        await _admit(limits, key, team)
        refusal = await _refuse(limits, key, team)
        assert (refusal.scope, refusal.kind) == ("team:t", "rpm")
        # Had the refused request counted, a parallel slot or an rpm unit would be missing here.
        for _ in range(9):
            await limits.rates.release(await _admit(limits, key), actual_tokens=0)
        refusal = await _refuse(limits, key)
        assert (refusal.kind, refusal.used) == ("rpm", 10)

    backend.run(main)


def test_refusal_names_the_longest_wait(backend: Backend) -> None:
    """When several limits refuse, the one to report is the one that frees last."""

    async def main(limits: Limits) -> None:
        key, team = RateLimit("key:a", rpm=60), RateLimit("team:t", tpm=100)
        await _admit(limits, RateLimit("key:a", rpm=60), team, tokens=100)
        for _ in range(59):
            await _admit(limits, key)
        refusal = await _refuse(limits, key, team, tokens=50)
        assert (refusal.scope, refusal.kind) == ("team:t", "tpm")
        assert refusal.retry_after == pytest.approx(30.0)

    backend.run(main)


def test_unlimited_scopes_touch_nothing(backend: Backend) -> None:
    """No limits (the master key) admit without a store round trip, and release is free."""

    async def main(limits: Limits) -> None:
        admission = await _admit(limits, RateLimit("key:master"))
        assert admission.limits == ()
        await limits.rates.release(admission, actual_tokens=100)
        assert await limits.rates.renew(admission)
        if backend.is_redis:
            keys = await backend.client().keys(f"{backend.prefix(limits)}*")
            assert keys == []

    backend.run(main)


def test_refusal_message_and_error(backend: Backend) -> None:
    """The 429 is friendly: it names the scope kind and the wait, never the key itself."""

    async def main(limits: Limits) -> None:
        await _admit(limits, RateLimit("key:abc123", rpm=1))
        refusal = await _refuse(limits, RateLimit("key:abc123", rpm=1))
        assert refusal.message == (
            "Rate limit reached for this key: 1 request per minute (1 used). Please try again in 60 seconds."
        )
        error = refusal.error()
        assert isinstance(error, RateLimitError) and error.status == 429
        assert error.retry_after is not None and math.isclose(error.retry_after, 60.0)
        parallel = Refusal("end_user:u", "parallel", 2, 2, 1.0)
        assert "this end user" in parallel.message and "end_user:u" not in parallel.message
        assert "abc123" not in refusal.message

    backend.run(main)


@pytest.mark.redis
def test_every_redis_key_expires(redis_backend: Backend) -> None:
    """Nothing is left in Redis forever: every key written carries a TTL within its bound."""

    async def main(limits: Limits) -> None:
        limit = RateLimit("key:a", rpm=10, tpm=1000, parallel=3)
        admission = await _admit(limits, limit, tokens=600)
        await limits.rates.release(admission, actual_tokens=900)
        await _admit(limits, limit, tokens=10)
        client = redis_backend.client()
        keys = await client.keys(f"{redis_backend.prefix(limits)}*")
        assert len(keys) == 2
        for key in keys:
            ttl = await client.pttl(key)
            assert 0 < ttl <= 61_000 + 1000, (key, ttl)

    redis_backend.run(main, lease_ttl=60)


@pytest.mark.redis
def test_scripts_are_reloaded_after_redis_forgets_them(redis_backend: Backend) -> None:
    """After SCRIPT FLUSH (or a Redis restart) the next call loads its script again and works."""

    async def main(limits: Limits) -> None:
        await _admit(limits, RateLimit("key:a", rpm=2))
        await redis_backend.client().script_flush()
        await _admit(limits, RateLimit("key:a", rpm=2))
        assert (await _refuse(limits, RateLimit("key:a", rpm=2))).used == 2

    redis_backend.run(main)


def test_unreachable_redis_is_reported_as_unavailable() -> None:
    """A Redis that cannot be reached raises LimitsUnavailableError (a 503), not a Redis error."""

    async def main() -> None:
        limits = redis_limits("redis://127.0.0.1:1/0", prefix="bastion:test-unreachable:")
        try:
            with pytest.raises(LimitsUnavailableError) as caught:
                await limits.rates.acquire("key:a", rpm=1, tpm=None, parallel=None, tokens=0)
            assert caught.value.status == 503 and "store is unavailable" in caught.value.message
            with pytest.raises(LimitsUnavailableError):
                await limits.revocations.is_revoked("h")
        finally:
            await limits.close()

    asyncio.run(main())
