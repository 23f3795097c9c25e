"""Overload control: a process over capacity refuses new calls at once (503 and ``retry-after``)
instead of queueing them until every caller times out.

A gateway's capacity is event-loop time, not the number of calls waiting on upstreams (a slow
provider can hold thousands of cheap ones). So the main signal is the event loop's lag: a timer
asks to wake every few milliseconds and notes how late it runs, which is how long any ready task
waits for its turn. As in CoDel, a late sample alone (a collector pause, one big body) changes
nothing; shedding starts when :data:`_SAMPLES` samples in a row are at least the target late,
stops at the first sample under it, and for a second afterwards one late sample starts it again
(the queue is known to come back). While shedding, new calls are refused before their body is
read, which costs almost nothing, so the calls already admitted finish at the normal pace.

``max_in_flight`` adds an optional fixed cap on the requests in progress. Health, readiness and
metrics are never refused (their endpoints say ``shed=False``).

An idle process has no lag to measure: while no call is in progress (and none is being refused),
the watch sleeps until the next one arrives instead of waking a hundred times a second (which cost
an idle gateway several milliseconds of CPU every second). A calm one needs few samples: while
they come in well under the target, the watch waits twice as long before each next one (up to
:data:`_CALM_PERIOD`), and it samples every :data:`_PERIOD` again from the first one at least a
quarter of the target late, while shedding, and for :data:`_MEMORY` after it. A stream at
concurrency 1 used to be woken every 10 ms by the watch alone, on top of its tokens' wakes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from bastion.domain.errors import OverloadedError
from bastion.observability.metrics import Metrics
from bastion.settings import OverloadSettings

__all__ = ["Overload"]

_log = logging.getLogger("bastion.api")

#: How often the lag is sampled, in seconds, once it is not calm.
_PERIOD = 0.010
#: The longest wait between two samples while they are calm (each calm sample doubles it).
_CALM_PERIOD = 0.080
#: Consecutive late samples that start shedding from a calm state.
_SAMPLES = 5
#: For this long after shedding stopped, one late sample starts it again.
_MEMORY = 1.0


class Overload:
    """The admission decision of one process. ``try_enter``/``leave`` bracket each call."""

    def __init__(self, settings: OverloadSettings, metrics: Metrics) -> None:
        self._target = settings.max_event_loop_lag_ms / 1000
        self._cap = settings.max_in_flight
        self._retry_after = settings.retry_after_seconds
        self._shed = metrics.shed
        self._lag_gauge = metrics.event_loop_lag
        self._recent: deque[float] = deque(maxlen=_SAMPLES)
        self._stopped_at = float("-inf")
        #: Requests in progress (only the ones overload control may refuse).
        self.in_flight = 0
        #: Whether new calls are being refused for event-loop lag right now.
        self.shedding = False
        #: Set when a call arrives at an idle process: the watch samples again.
        self._busy = asyncio.Event()
        #: How long the watch waits before its next sample, in seconds.
        self.period = _PERIOD

    @property
    def watches_lag(self) -> bool:
        return self._target > 0

    def try_enter(self, family: str) -> OverloadedError | None:
        """Admit one call (counted until :meth:`leave`), or the error refusing it."""
        if self.shedding:
            return self._refuse("event_loop_lag", family)
        if self._cap and self.in_flight >= self._cap:
            return self._refuse("in_flight", family)
        self.in_flight += 1
        if self.in_flight == 1:
            self._busy.set()
        return None

    def leave(self) -> None:
        self.in_flight -= 1

    def observe(self, lag: float, now: float) -> None:
        """Feed one lag sample (seconds late) taken at ``now`` (seconds, monotonic)."""
        self._lag_gauge.set(lag)
        if self._target <= 0:
            return  # lag shedding is off
        recent = self._recent
        recent.append(lag)
        target = self._target
        if lag < target / 4 and not self.shedding and now - self._stopped_at >= _MEMORY:
            self.period = min(self.period * 2, _CALM_PERIOD)  # calm: the next sample can wait longer
        else:
            self.period = _PERIOD
        if self.shedding:
            if lag < target:
                self.shedding = False
                self._stopped_at = now
                _log.info("overload: event loop back under %.0f ms late; admitting new calls", target * 1000)
            return
        if lag >= target and (
            now - self._stopped_at < _MEMORY or (len(recent) == _SAMPLES and min(recent) >= target)
        ):
            if now - self._stopped_at >= _MEMORY:
                _log.warning(
                    "overload: event loop %.0f ms late for %d samples; refusing new calls with 503",
                    lag * 1000,
                    _SAMPLES,
                )
            self.shedding = True

    async def watch(self) -> None:
        """Sample the event loop's lag until cancelled (run as a supervised service)."""
        loop = asyncio.get_running_loop()
        busy = self._busy
        while True:
            if self.in_flight == 0 and not self.shedding:
                # Idle: nothing waits for the loop, so no lag; sample again from the next call.
                self._lag_gauge.set(0.0)
                self._recent.clear()
                busy.clear()
                if self.in_flight == 0:
                    await busy.wait()
            period = self.period
            asked = loop.time()
            await asyncio.sleep(period)
            now = loop.time()
            self.observe(max(now - asked - period, 0.0), now)

    def _refuse(self, reason: str, family: str) -> OverloadedError:
        self._shed.labels(reason, family).inc()
        return OverloadedError(
            "This gateway is over capacity right now and did not start your call; retry after "
            f"{self._retry_after:g} s (another replica may answer sooner).",
            code="overloaded",
            retry_after=self._retry_after,
        )
