"""LiteLLM durations (``30s``, ``10m``, ``24h``, ``30d``, ``2w``, ``1mo``): lifetimes and budget resets.

Two readings of the same text, as LiteLLM has them:

- a key's ``duration`` is exact: it expires ``duration`` after it was made (``1mo`` is a calendar
  month, the day clamped to the month's end);
- a ``budget_duration`` resets on calendar boundaries in the configured time zone, so every
  process (and the database's ``budget_reset_at``) computes the same reset time: ``1d`` at the next
  midnight, ``7d``/``1w`` on Monday at midnight, ``30d``/``1mo`` on the 1st of the month at
  midnight, ``Nmo`` on the 1st N months on, other ``Nd``/``Nw`` N days (weeks) after today's
  midnight, and ``s``/``m``/``h`` at the next multiple of the step counted from today's midnight.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from bastion.domain.errors import InvalidRequestError

__all__ = ["Duration", "DurationError", "expires_at", "next_reset", "parse_duration"]

_PATTERN = re.compile(r"(\d+)(mo|[smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(InvalidRequestError):
    """A duration that is not ``<positive number><unit>``."""

    def __init__(self, text: object, reason: str) -> None:
        super().__init__(
            f"Invalid duration {text!r}: {reason}. Use a whole number followed by s, m, h, d, w or mo, "
            "e.g. '30s', '10m', '24h', '30d' or '1mo'.",
            code="invalid_duration",
        )


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed duration: ``value`` units of ``s``, ``m``, ``h``, ``d``, ``w`` or ``mo``."""

    value: int
    unit: str

    def __str__(self) -> str:
        return f"{self.value}{self.unit}"

    @property
    def seconds(self) -> int | None:
        """Fixed length in seconds; ``None`` for months, whose length depends on the start."""
        per_unit = _UNIT_SECONDS.get(self.unit)
        return None if per_unit is None else self.value * per_unit

    def after(self, start: datetime) -> datetime:
        """``start`` plus this duration, exactly (a key's expiry)."""
        if self.unit == "mo":
            return _add_months(start, self.value)
        return start + timedelta(seconds=self.value * _UNIT_SECONDS[self.unit])

    def window_start(self, now: datetime, tz: tzinfo = UTC) -> datetime:
        """When the budget window holding ``now`` began (the reset before :meth:`next_reset`)."""
        reset = self.next_reset(now, tz)
        if self.unit == "mo" or (self.unit == "d" and self.value == 30):
            return _add_months(reset, -(self.value if self.unit == "mo" else 1))
        days = {"d": 1, "w": 7}.get(self.unit)
        if days is not None:
            span = self.value * days
            return reset - timedelta(days=7 if span == 7 else span)
        return reset - timedelta(seconds=self.value * _UNIT_SECONDS[self.unit])

    def next_reset(self, now: datetime, tz: tzinfo = UTC) -> datetime:
        """The first budget reset strictly after ``now``, on the calendar of ``tz``."""
        local = now.astimezone(tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        days = self.value * 7 if self.unit == "w" else self.value
        if self.unit == "mo" or (self.unit == "d" and self.value == 30):
            months = self.value if self.unit == "mo" else 1
            return _add_months(midnight.replace(day=1), months)
        if self.unit in ("d", "w"):
            if days == 1:
                return midnight + timedelta(days=1)
            if days == 7:
                return midnight + timedelta(days=7 - local.weekday())
            return midnight + timedelta(days=days)
        step = self.value * _UNIT_SECONDS[self.unit]
        elapsed = (local - midnight).total_seconds()
        return midnight + timedelta(seconds=(int(elapsed // step) + 1) * step)


@lru_cache(maxsize=256)
def parse_duration(text: str) -> Duration:
    """Parse ``"30s"``, ``"10m"``, ``"24h"``, ``"30d"``, ``"2w"``, ``"1mo"``; else :class:`DurationError`."""
    if not isinstance(text, str):
        raise DurationError(text, "not a string")
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise DurationError(text, "unknown format")
    value = int(match.group(1))
    if value <= 0:
        raise DurationError(text, "it must be greater than zero")
    return Duration(value, match.group(2))


def expires_at(duration: str | None, now: datetime) -> datetime | None:
    """When a key made at ``now`` with ``duration`` expires; ``None`` (never) when no duration."""
    if duration is None:
        return None
    return parse_duration(duration).after(now)


def next_reset(duration: str, now: float, tz: tzinfo = UTC) -> float:
    """The next budget reset after the Unix time ``now``, as a Unix time."""
    return parse_duration(duration).next_reset(datetime.fromtimestamp(now, UTC), tz).timestamp()


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
