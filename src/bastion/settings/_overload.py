"""Reading ``bastion_settings.overload``: when a gateway process sheds new calls."""

from __future__ import annotations

from bastion.settings._known_keys import OVERLOAD_KEYS
from bastion.settings._reader import MapReader
from bastion.settings.model import OverloadSettings

__all__ = ["read_overload"]


def read_overload(section: MapReader) -> OverloadSettings:
    """The ``overload`` mapping under ``bastion_settings`` (``section``); defaults when absent."""
    overload = section.mapping("overload")
    defaults = OverloadSettings()
    if overload is None:
        return defaults
    overload.reject_unknown(OVERLOAD_KEYS)
    lag = overload.number("max_event_loop_lag_ms")
    if lag is not None and 0 < lag < 5:
        raise overload.at("max_event_loop_lag_ms").error(
            "under 5 ms would shed a healthy gateway (timer jitter alone); use 0 to turn lag shedding off"
        )
    in_flight = overload.integer("max_in_flight")
    retry = overload.number("retry_after_seconds", exclusive=True)
    return OverloadSettings(
        max_event_loop_lag_ms=defaults.max_event_loop_lag_ms if lag is None else lag,
        max_in_flight=defaults.max_in_flight if in_flight is None else in_flight,
        retry_after_seconds=defaults.retry_after_seconds if retry is None else retry,
    )
