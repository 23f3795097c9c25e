"""LiteLLM durations: parsing, exact key lifetimes, calendar-aligned budget resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.domain.errors import InvalidRequestError
from bastion.limits.durations import Duration, DurationError, expires_at, next_reset, parse_duration

# A Wednesday.
NOW = datetime(2026, 1, 14, 15, 47, 12, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value", "unit", "seconds"),
    [
        ("30s", 30, "s", 30),
        ("10m", 10, "m", 600),
        ("24h", 24, "h", 86400),
        ("30d", 30, "d", 2_592_000),
        ("2w", 2, "w", 1_209_600),
        (" 1mo ", 1, "mo", None),
    ],
)
def test_parse(text: str, value: int, unit: str, seconds: int | None) -> None:
    """Every LiteLLM unit parses; months have no fixed length."""
    duration = parse_duration(text)
    assert duration == Duration(value, unit)
    assert duration.seconds == seconds
    assert str(duration) == f"{value}{unit}"


@pytest.mark.parametrize("text", ["", "30", "30x", "d30", "1.5h", "-1d", "30 d", "30D", "none"])
def test_bad_durations_are_refused_clearly(text: str) -> None:
    """Anything else is a 400 that shows the value and the accepted forms."""
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert isinstance(caught.value, InvalidRequestError) and caught.value.status == 400
    assert repr(text) in caught.value.message and "'30d'" in caught.value.message
    assert caught.value.code == "invalid_duration"


def test_zero_and_non_strings_are_refused() -> None:
    """A zero length and a non-string value are refused with their own reason."""
    with pytest.raises(DurationError, match="greater than zero"):
        parse_duration("0d")
    with pytest.raises(DurationError, match="not a string"):
        parse_duration(30)


def test_key_expiry_is_exact() -> None:
    """A key's duration counts from its creation, months on the calendar clamped to the month's end."""
    assert expires_at(None, NOW) is None
    assert expires_at("30s", NOW) == NOW + timedelta(seconds=30)
    assert expires_at("24h", NOW) == NOW + timedelta(days=1)
    assert expires_at("1mo", NOW) == NOW.replace(month=2)
    end_of_january = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert expires_at("1mo", end_of_january) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert expires_at("12mo", end_of_january) == datetime(2027, 1, 31, 12, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", _utc(2026, 1, 14, 15, 47, 30)),
        ("10m", _utc(2026, 1, 14, 15, 50)),
        ("1h", _utc(2026, 1, 14, 16)),
        ("6h", _utc(2026, 1, 14, 18)),
        ("1d", _utc(2026, 1, 15)),
        ("7d", _utc(2026, 1, 19)),  # Monday
        ("1w", _utc(2026, 1, 19)),
        ("30d", _utc(2026, 2, 1)),
        ("1mo", _utc(2026, 2, 1)),
        ("3mo", _utc(2026, 4, 1)),
        ("3d", _utc(2026, 1, 17)),
        ("2w", _utc(2026, 1, 28)),
    ],
)
def test_budget_resets_on_calendar_boundaries(text: str, expected: datetime) -> None:
    """Budget windows reset where LiteLLM resets them: midnight, Monday, the 1st, step multiples."""
    assert parse_duration(text).next_reset(NOW) == expected


def test_resets_follow_the_configured_time_zone() -> None:
    """Midnight is the gateway's time zone's midnight."""
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: 15:47 UTC is 21:17 there
    reset = parse_duration("1d").next_reset(NOW, kolkata)
    assert reset == datetime(2026, 1, 15, tzinfo=kolkata)
    assert next_reset("1d", NOW.timestamp(), kolkata) == reset.timestamp()


def test_reset_on_a_boundary_moves_to_the_next_one() -> None:
    """At exactly a reset time, the next reset is a full window later, never the same instant."""
    midnight = _utc(2026, 1, 15)
    assert parse_duration("1d").next_reset(midnight) == _utc(2026, 1, 16)
    assert parse_duration("30s").next_reset(midnight) == midnight + timedelta(seconds=30)
    assert parse_duration("7d").next_reset(_utc(2026, 1, 19)) == _utc(2026, 1, 26)


@given(
    st.sampled_from(["15s", "7m", "1h", "5h", "1d", "3d", "7d", "2w", "30d", "1mo", "2mo"]),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_next_reset_is_always_ahead(text: str, now: datetime) -> None:
    """Whatever the moment, the next reset is after it and at most one window (or month) away."""
    duration = parse_duration(text)
    reset = duration.next_reset(now)
    assert reset > now
    # ``30d`` resets on the 1st, up to 31 days away.
    bound = 31 * 86400 if text == "30d" else duration.seconds or 31 * 86400 * duration.value
    assert (reset - now).total_seconds() <= bound


def test_window_start_is_the_reset_before_the_next_one() -> None:
    """A budget window runs from window_start to next_reset: midnight, Monday, the 1st, or a step."""
    now = datetime(2026, 11, 25, 15, 45, 10, tzinfo=UTC)  # a Wednesday
    expected = {
        "30s": datetime(2026, 11, 25, 15, 45, 0, tzinfo=UTC),
        "10m": datetime(2026, 11, 25, 15, 40, tzinfo=UTC),
        "1d": datetime(2026, 11, 25, tzinfo=UTC),
        "7d": datetime(2026, 11, 23, tzinfo=UTC),
        "30d": datetime(2026, 11, 1, tzinfo=UTC),
        "1mo": datetime(2026, 11, 1, tzinfo=UTC),
    }
    for text, start in expected.items():
        window = parse_duration(text)
        assert window.window_start(now) == start, text
        assert window.window_start(now) <= now < window.next_reset(now)
