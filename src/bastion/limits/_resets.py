"""Budget reset times, computed once per window instead of once per request."""

from __future__ import annotations

from datetime import tzinfo

from bastion.limits.durations import next_reset

__all__ = ["ResetSchedule"]


class ResetSchedule:
    """``next_after(duration, now)``: the next reset of a window, cached until it passes."""

    __slots__ = ("_cache", "_tz")

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._cache: dict[str, float] = {}

    def next_after(self, duration: str, now: float) -> float:
        # A cached reset still ahead is as good as a fresh one: calendar-aligned windows share
        # it, and for the others (``3d``) it is the boundary set when the window started.
        found = self._cache.get(duration)
        if found is None or found <= now:
            found = next_reset(duration, now, self._tz)
            self._cache[duration] = found
        return found
