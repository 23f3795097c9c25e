"""What the router knows about each deployment's health, speed and load, in this process.

* **Cooldowns** (LiteLLM's ``allowed_fails`` and ``cooldown_time``): a deployment that failed more
  than ``allowed_fails`` times within a minute, or answered 429 (rate limited), 401/403 (bad
  credentials) or 404 (unknown model), is left out for ``cooldown_time`` seconds, then tried again.
  Only failures that move a request elsewhere count (a client's 400 says nothing about health).
* **Latency** (``latency-based-routing``): a moving average of each deployment's time to answer
  (non-streaming) or to its first frame (streaming).
* **Usage** (``usage-based-routing``): requests and tokens sent to each deployment this minute,
  against its ``rpm`` / ``tpm``.

``router_settings.disable_cooldowns: true`` turns cooldowns off. With Redis configured,
:mod:`bastion.gateway.health_shared` shares cooldowns (and usage, for usage-based routing) with
the other gateway processes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from bastion.domain.errors import BastionError, UpstreamError

__all__ = ["DeploymentHealth"]

_WINDOW = 60.0
#: Weight of the newest sample in the latency average.
_ALPHA = 0.3
_COOL_AT_ONCE = frozenset({401, 403, 404, 429})


class DeploymentHealth:
    def __init__(
        self,
        *,
        allowed_fails: int,
        cooldown_time: float,
        cooldowns: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed = allowed_fails
        self._cooldown = cooldown_time
        self._enabled = cooldowns and cooldown_time > 0
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}
        self._latency: dict[str, float] = {}
        #: deployment -> (minute, requests, tokens)
        self._usage: dict[str, tuple[int, int, int]] = {}
        #: Called with (deployment, seconds) when this process starts a cooldown.
        self.on_cooldown: Callable[[str, float], None] | None = None
        #: Called with (deployment, requests, tokens) when this process uses a deployment.
        self.on_used: Callable[[str, int, int], None] | None = None

    # ------------------------------------------------------------------ cooldowns

    def cooling(self, deployment: str) -> bool:
        until = self._until.get(deployment)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._until[deployment]  # cooled down: tried again, with a clean slate
        self._fails.pop(deployment, None)
        return False

    def cooldown_left(self, deployment: str) -> float:
        """Seconds until ``deployment`` is tried again (0 when it is not cooling down)."""
        until = self._until.get(deployment)
        return 0.0 if until is None else max(until - self.clock(), 0.0)

    def failed(self, deployment: str, err: BastionError) -> bool:
        """Note a failure; True when it starts a cooldown."""
        if not self._enabled:
            return False
        now = self.clock()
        fails = self._fails.setdefault(deployment, deque())
        fails.append(now)
        while fails and fails[0] <= now - _WINDOW:
            fails.popleft()
        at_once = isinstance(err, UpstreamError) and err.status in _COOL_AT_ONCE
        if at_once or len(fails) > self._allowed:
            self._until[deployment] = now + self._cooldown
            fails.clear()
            if self.on_cooldown is not None:
                self.on_cooldown(deployment, self._cooldown)
            return True
        return False

    def cool_for(self, deployment: str, seconds: float) -> None:
        """Another process cooled ``deployment`` down; it stays out here too for ``seconds``."""
        until = self.clock() + seconds
        if until > self._until.get(deployment, 0.0):
            self._until[deployment] = until

    # ------------------------------------------------------------------ latency

    def succeeded(self, deployment: str, seconds: float) -> None:
        previous = self._latency.get(deployment)
        self._latency[deployment] = seconds if previous is None else previous + _ALPHA * (seconds - previous)

    def latency(self, deployment: str) -> float | None:
        return self._latency.get(deployment)

    # ------------------------------------------------------------------ usage this minute

    def minute(self) -> int:
        """The current usage window's number."""
        return int(self.clock() // _WINDOW)

    def used(self, deployment: str, *, requests: int = 0, tokens: int = 0) -> None:
        minute = self.minute()
        seen, count, total = self._usage.get(deployment, (minute, 0, 0))
        if seen != minute:
            count, total = 0, 0
        self._usage[deployment] = (minute, count + requests, total + tokens)
        if self.on_used is not None and (requests or tokens):
            self.on_used(deployment, requests, tokens)

    def set_usage(self, deployment: str, minute: int, requests: int, tokens: int) -> None:
        """Every process's usage of ``deployment`` in ``minute`` (read from Redis)."""
        seen, count, total = self._usage.get(deployment, (minute, 0, 0))
        if seen == minute:  # never below what this process counted itself
            requests, tokens = max(requests, count), max(tokens, total)
        self._usage[deployment] = (minute, requests, tokens)

    def usage(self, deployment: str) -> tuple[int, int]:
        """Requests and tokens this minute."""
        minute = int(self.clock() // _WINDOW)
        seen, count, total = self._usage.get(deployment, (minute, 0, 0))
        return (count, total) if seen == minute else (0, 0)
