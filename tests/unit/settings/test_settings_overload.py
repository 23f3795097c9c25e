"""``bastion_settings.overload``: defaults that never shed a healthy gateway, and bad values refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import OverloadSettings, load_settings
from bastion.settings._problems import ConfigProblems

Write = Callable[..., Path]
GROUPS = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/a}\n"


def load(write_config: Write, body: str = "") -> OverloadSettings:
    return load_settings(write_config(GROUPS + body), environ={}).bastion.overload


def test_defaults_shed_only_on_persistent_lag(write_config: Write) -> None:
    assert load(write_config) == OverloadSettings(
        max_event_loop_lag_ms=50.0, max_in_flight=0, retry_after_seconds=1.0
    )


def test_every_key_is_read(write_config: Write) -> None:
    body = (
        "bastion_settings:\n  overload:\n    max_event_loop_lag_ms: 0\n    max_in_flight: 500\n"
        "    retry_after_seconds: 2.5\n"
    )
    assert load(write_config, body) == OverloadSettings(0.0, 500, 2.5)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("max_event_loop_lag_ms: 2", "under 5 ms would shed a healthy gateway"),
        ("max_in_flight: -1", "max_in_flight"),
        ("retry_after_seconds: 0", "retry_after_seconds"),
        ("max_lag: 10", "max_lag"),
    ],
)
def test_bad_values_stop_start_up_with_their_place(write_config: Write, line: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        load(write_config, f"bastion_settings:\n  overload:\n    {line}\n")
    assert "config.yaml:6" in str(caught.value)


def test_every_bad_key_is_reported_at_once(write_config: Write) -> None:
    """Three bad keys under ``overload`` and a bad port beside it: four lines, in file order."""
    path = write_config(
        GROUPS + "bastion_settings:\n  overload:\n    max_event_loop_lag_ms: 2\n    max_in_flight: -1\n"
        "    retry_after_seconds: 0\n  port: 0\n"
    )
    with pytest.raises(ConfigProblems) as caught:
        load_settings(path, environ={})
    keys = [line.split(": ", 2)[1] for line in caught.value.lines]
    assert keys == [
        "bastion_settings.overload.max_event_loop_lag_ms",
        "bastion_settings.overload.max_in_flight",
        "bastion_settings.overload.retry_after_seconds",
        "bastion_settings.port",
    ]
