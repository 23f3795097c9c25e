"""Login throttling: failed logins per account and per client address are slowed, then refused.

Each failure adds to a counter that lives ``lockout_seconds`` after the last failure. While a
counter is below its maximum, the failed answer is delayed ``failures x slowdown`` seconds (capped
at 5 s); at the maximum, logins for that account (or from that address) are refused with 429 and
``Retry-After`` until the counter expires, even with the right password. A successful login
clears the account's counter. An address gets four times the account's allowance (many people
may share one address). Counters are in memory by default, or in the shared Redis when
``redis_url`` is configured (:class:`bastion.limits.redis.RedisFailureCounter`), so every gateway
process sees the same failures.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Protocol

from bastion.domain.errors import RateLimitError

__all__ = ["FailureCounter", "LoginThrottle", "MemoryFailureCounter"]

_MAX_DELAY = 5.0


class FailureCounter(Protocol):
    async def count(self, key: str) -> tuple[int, float]:
        """The failures counted under ``key`` and the seconds until they are forgotten."""
        ...

    async def add(self, key: str, ttl: float) -> int:
        """Count one more failure; the counter now expires ``ttl`` seconds from now."""
        ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryFailureCounter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}

    async def count(self, key: str) -> tuple[int, float]:
        found = self._counts.get(key)
        now = self._clock()
        if found is None or found[1] <= now:
            self._counts.pop(key, None)
            return 0, 0.0
        return found[0], found[1] - now

    async def add(self, key: str, ttl: float) -> int:
        count, _ = await self.count(key)
        if len(self._counts) > 100_000:  # a flood of random names cannot grow memory without bound
            now = self._clock()
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        self._counts[key] = (count + 1, self._clock() + ttl)
        return count + 1

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        return None


class LoginThrottle:
    def __init__(
        self,
        counter: FailureCounter,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 900.0,
        slowdown_seconds: float = 0.5,
    ) -> None:
        self._counter = counter
        self._max = max_failures
        self._lockout = lockout_seconds
        self._slowdown = slowdown_seconds

    def _keys(self, account: str, address: str | None) -> list[tuple[str, int]]:
        # Hashed: the counters never hold an email address in the clear.
        keys = [(_hashed("account", account.strip().lower()), self._max)]
        if address:
            keys.append((_hashed("address", address), self._max * 4))
        return keys

    async def check(self, account: str, address: str | None) -> None:
        """Raise :class:`RateLimitError` (429, ``retry_after``) while the account or address is locked."""
        for key, limit in self._keys(account, address):
            count, ttl = await self._counter.count(key)
            if count >= limit:
                raise RateLimitError(
                    f"Too many failed logins; try again in {math.ceil(ttl)} seconds.",
                    code="login_locked",
                    retry_after=float(math.ceil(ttl)),
                )

    async def failed(self, account: str, address: str | None) -> float:
        """Count a failed login; the seconds to wait before answering it."""
        worst = 0
        for key, _ in self._keys(account, address):
            worst = max(worst, await self._counter.add(key, self._lockout))
        return min(worst * self._slowdown, _MAX_DELAY)

    async def succeeded(self, account: str) -> None:
        await self._counter.clear(self._keys(account, None)[0][0])

    async def close(self) -> None:
        await self._counter.close()


def _hashed(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"
