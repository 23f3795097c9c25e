"""Reading ``bastion_settings.overload``: when a gateway process sheds new calls."""

from __future__ import annotations

from bastion.settings._known_keys import OVERLOAD_KEYS
from bastion.settings._problems import Problems
from bastion.settings._reader import MapReader
from bastion.settings.model import OverloadSettings

__all__ = ["read_overload"]


def read_overload(section: MapReader, problems: Problems | None = None) -> OverloadSettings:
    """The ``overload`` mapping under ``bastion_settings`` (``section``); defaults when absent.

    With ``problems``, each key with a problem is noted there and takes its default; without, the
    first problem is raised.
    """
    noted = problems if problems is not None else Problems()
    defaults = OverloadSettings()
    overload = noted.attempt(lambda: section.mapping("overload"), None)
    if overload is None:
        if problems is None:
            noted.raise_if_any()
        return defaults
    noted.run(lambda: overload.reject_unknown(OVERLOAD_KEYS))
    lag = noted.attempt(lambda: _lag(overload), None)
    in_flight = noted.attempt(lambda: overload.integer("max_in_flight"), None)
    retry = noted.attempt(lambda: overload.number("retry_after_seconds", exclusive=True), None)
    if problems is None:
        noted.raise_if_any()
    return OverloadSettings(
        max_event_loop_lag_ms=defaults.max_event_loop_lag_ms if lag is None else lag,
        max_in_flight=defaults.max_in_flight if in_flight is None else in_flight,
        retry_after_seconds=defaults.retry_after_seconds if retry is None else retry,
    )


def _lag(overload: MapReader) -> float | None:
    lag = overload.number("max_event_loop_lag_ms")
    if lag is not None and 0 < lag < 5:
        raise overload.at("max_event_loop_lag_ms").error(
            "under 5 ms would shed a healthy gateway (timer jitter alone); use 0 to turn lag shedding off"
        )
    return lag
