"""Requests and tokens per minute and parallel slots in a dict, for one gateway process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bastion.limits import _bucket
from bastion.limits.admission import PARALLEL_RETRY_AFTER, Admission, LimitKind, RateLimit, Refusal

__all__ = ["MemoryRateLimiter"]

_SWEEP_EVERY = 1024


@dataclass(slots=True)
class _Bucket:
    requests: float = 0.0
    requests_at: float = 0.0
    tokens: float = 0.0
    tokens_at: float = 0.0


#: The drained (requests, tokens) levels of each scope, computed by a check for its commit.
Plan = list[tuple[float, float]]


class MemoryRateLimiter:
    """:class:`~bastion.limits.backend.RateLimiter` in a dict.

    Check and commit run with no ``await`` between them, which makes each operation atomic.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None, lease_ttl: float = 900.0) -> None:
        self.clock = clock or time.time
        self._lease_ttl = lease_ttl
        self._buckets: dict[str, _Bucket] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._writes = 0

    async def acquire(
        self, scope: str, *, rpm: int | None, tpm: int | None, parallel: int | None, tokens: int
    ) -> Admission | Refusal:
        return await self.acquire_many([RateLimit(scope, rpm, tpm, parallel)], tokens=tokens)

    async def acquire_many(self, limits: Sequence[RateLimit], *, tokens: int) -> Admission | Refusal:
        admission = Admission.of(_bucket.new_id(), limits, tokens)
        if not admission.limits:
            return admission
        now = self.clock()
        plan = self.check(admission, now)
        if isinstance(plan, Refusal):
            return plan
        self.commit(admission, plan, now)
        return admission

    async def release(self, admission: Admission, *, actual_tokens: int) -> None:
        self.release_now(admission, actual_tokens=actual_tokens)

    def release_now(self, admission: Admission, *, actual_tokens: int) -> None:
        """:meth:`release`, which waits for nothing here, as a plain call."""
        if admission.released:
            return
        admission.released = True
        now = self.clock()
        delta = actual_tokens - admission.tokens
        for limit in admission.limits:
            if limit.tpm is not None and delta:
                bucket = self._buckets.setdefault(limit.scope, _Bucket())
                level = _bucket.drain(bucket.tokens, bucket.tokens_at, now, limit.tpm)
                bucket.tokens, bucket.tokens_at = max(level + delta, 0.0), now
            if limit.parallel is not None:
                self._leases.get(limit.scope, {}).pop(admission.id, None)

    async def renew(self, admission: Admission) -> bool:
        now = self.clock()
        renewed = True
        for limit in admission.limits:
            if limit.parallel is None:
                continue
            leases = self._live_leases(limit.scope, now)
            if admission.id in leases:
                leases[admission.id] = now + self._lease_ttl
            else:
                renewed = False
        return renewed

    def check(self, admission: Admission, now: float) -> Plan | Refusal:
        """The refusal with the longest wait, or the levels to commit; writes nothing."""
        worst: Refusal | None = None
        plan: Plan = []
        for limit in admission.limits:
            bucket = self._buckets.get(limit.scope) or _Bucket()
            requests = tokens = 0.0
            if limit.rpm is not None:
                requests = _bucket.drain(bucket.requests, bucket.requests_at, now, limit.rpm)
                worst = _worse(worst, limit.scope, "rpm", limit.rpm, requests, 1)
            if limit.tpm is not None:
                tokens = _bucket.drain(bucket.tokens, bucket.tokens_at, now, limit.tpm)
                worst = _worse(worst, limit.scope, "tpm", limit.tpm, tokens, admission.tokens)
            if limit.parallel is not None:
                held = len(self._live_leases(limit.scope, now))
                if held >= limit.parallel:
                    refusal = Refusal(limit.scope, "parallel", limit.parallel, held, PARALLEL_RETRY_AFTER)
                    worst = _pick(worst, refusal)
            plan.append((requests, tokens))
        return plan if worst is None else worst

    def commit(self, admission: Admission, plan: Plan, now: float) -> None:
        admission.levels = tuple(
            (
                requests + 1 if limit.rpm is not None else None,
                tokens + admission.tokens if limit.tpm is not None else None,
            )
            for limit, (requests, tokens) in zip(admission.limits, plan, strict=True)
        )
        for limit, (requests, tokens) in zip(admission.limits, plan, strict=True):
            if limit.rpm is not None or limit.tpm is not None:
                bucket = self._buckets.setdefault(limit.scope, _Bucket())
                if limit.rpm is not None:
                    bucket.requests, bucket.requests_at = requests + 1, now
                if limit.tpm is not None:
                    bucket.tokens, bucket.tokens_at = tokens + admission.tokens, now
            if limit.parallel is not None:
                self._leases.setdefault(limit.scope, {})[admission.id] = now + self._lease_ttl
        self._sweep_sometimes(now)

    def _live_leases(self, scope: str, now: float) -> dict[str, float]:
        leases = self._leases.setdefault(scope, {})
        for lease_id in [lease_id for lease_id, expiry in leases.items() if expiry <= now]:
            del leases[lease_id]
        return leases

    def _sweep_sometimes(self, now: float) -> None:
        # Without this, every end user ever seen would keep a bucket for the life of the process.
        self._writes += 1
        if self._writes % _SWEEP_EVERY:
            return
        for scope in [scope for scope, bucket in self._buckets.items() if _drained(bucket, now)]:
            del self._buckets[scope]
        for scope in [scope for scope in self._leases if not self._live_leases(scope, now)]:
            del self._leases[scope]


def _drained(bucket: _Bucket, now: float) -> bool:
    # Any limit of at least 1 per minute drains a level L within L minutes.
    idle = now - max(bucket.requests_at, bucket.tokens_at)
    return idle > _bucket.WINDOW * max(bucket.requests, bucket.tokens)


def _worse(
    worst: Refusal | None, scope: str, kind: LimitKind, limit: int, level: float, cost: int
) -> Refusal | None:
    wait = _bucket.refusal_wait(level, cost, limit)
    if wait is None:
        return worst
    retry_after = None if math.isinf(wait) else wait
    return _pick(worst, Refusal(scope, kind, limit, _bucket.used(level), retry_after))


def _pick(worst: Refusal | None, candidate: Refusal) -> Refusal:
    """The refusal with the longest wait (``None``, never, is the longest); the first on a tie."""
    if worst is None or worst.retry_after is None:
        return worst or candidate
    if candidate.retry_after is None or candidate.retry_after > worst.retry_after:
        return candidate
    return worst
