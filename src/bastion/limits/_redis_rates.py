"""Requests and tokens per minute and parallel slots in Redis, one script per operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from bastion.limits import _bucket
from bastion.limits._redis_store import Args, RedisLimitsStore
from bastion.limits.admission import Admission, LimitKind, RateLimit, Refusal

__all__ = ["RedisRateLimiter", "refusal_from"]


class RedisRateLimiter:
    """:class:`~bastion.limits.backend.RateLimiter` shared by every process using the same Redis."""

    def __init__(self, store: RedisLimitsStore, *, lease_ttl: float = 900.0) -> None:
        self._store = store
        self._lease_ttl = lease_ttl

    async def acquire(
        self, scope: str, *, rpm: int | None, tpm: int | None, parallel: int | None, tokens: int
    ) -> Admission | Refusal:
        return await self.acquire_many([RateLimit(scope, rpm, tpm, parallel)], tokens=tokens)

    async def acquire_many(self, limits: Sequence[RateLimit], *, tokens: int) -> Admission | Refusal:
        admission = Admission.of(_bucket.new_id(), limits, tokens)
        if not admission.limits:
            return admission
        keys, args = self.acquire_parts(admission)
        reply = await self._store.run(RedisLimitsStore.ACQUIRE, keys, [self._store.now_arg(), *args])
        if int(reply[0]) != 1:
            return refusal_from(admission, reply)
        admission.levels = levels_from(reply)
        return admission

    async def release(self, admission: Admission, *, actual_tokens: int) -> None:
        if admission.released:
            return
        admission.released = True
        keys, args = self.release_parts(admission, actual_tokens)
        if keys:
            script = RedisLimitsStore.RELEASE
            await self._store.shielded(self._store.run(script, keys, [self._store.now_arg(), *args]))

    async def renew(self, admission: Admission) -> bool:
        keys = [
            self._store.key("par", limit.scope) for limit in admission.limits if limit.parallel is not None
        ]
        if not keys:
            return True
        args = [self._store.now_arg(), admission.id, repr(self._lease_ttl)]
        return int(await self._store.run(RedisLimitsStore.RENEW, keys, args)) == 1

    def acquire_parts(self, admission: Admission) -> tuple[list[str], Args]:
        """KEYS and ARGV (after ``now``) of the rate check of ``_lua``."""
        keys: list[str] = []
        args: Args = [admission.id, admission.tokens, repr(self._lease_ttl), len(admission.limits)]
        for limit in admission.limits:
            keys += (self._store.key("rl", limit.scope), self._store.key("par", limit.scope))
            args += (_opt(limit.rpm), _opt(limit.tpm), _opt(limit.parallel))
        return keys, args

    def release_parts(self, admission: Admission, actual_tokens: int) -> tuple[list[str], Args]:
        """KEYS and ARGV (after ``now``) of a release; no keys when there is nothing to undo."""
        delta = actual_tokens - admission.tokens
        touched = [
            limit
            for limit in admission.limits
            if limit.parallel is not None or (limit.tpm is not None and delta)
        ]
        if not touched:
            return [], []
        keys: list[str] = []
        args: Args = [admission.id, delta, len(touched)]
        for limit in touched:
            keys += (self._store.key("rl", limit.scope), self._store.key("par", limit.scope))
            args += (_opt(limit.tpm), _opt(limit.parallel))
        return keys, args


def refusal_from(admission: Admission, reply: Any) -> Refusal:
    """The :class:`Refusal` of a script's ``{0, index, kind, limit, used, wait}`` reply."""
    index, kind, limit, level, wait = reply[1:6]
    retry_after = float(wait)
    return Refusal(
        scope=admission.limits[int(index) - 1].scope,
        kind=cast(LimitKind, kind.decode() if isinstance(kind, bytes) else kind),
        limit=int(float(limit)),
        used=_bucket.used(float(level)),
        retry_after=None if retry_after < 0 else retry_after,
    )


def levels_from(reply: Any) -> tuple[tuple[float | None, float | None], ...]:
    """The ``(requests, tokens)`` levels of an admitted reply's ``{1, r1, t1, r2, t2...}``."""
    values = [float(value) for value in reply[1:]]
    found = [None if value < 0 else value for value in values]
    return tuple((found[i], found[i + 1]) for i in range(0, len(found) - 1, 2))


def _opt(value: int | None) -> str | int:
    return "" if value is None else value
