"""``bastion_settings.server``: the HTTP server's timeouts and limits, with their defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import ServerSettings, load_settings
from bastion.settings._problems import ConfigProblems

Write = Callable[..., Path]
MODELS = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/a}\n"


def test_defaults_are_the_documented_ones(write_config: Write) -> None:
    """Without a ``server`` mapping every limit has its default (docs/operations.md)."""
    settings = load_settings(write_config(MODELS), environ={})
    server = settings.bastion.server
    assert server == ServerSettings()
    assert (server.header_timeout_seconds, server.body_timeout_seconds, server.keepalive_timeout_seconds) == (
        10.0,
        30.0,
        30.0,
    )
    assert (server.max_header_kib, server.max_connections) == (64, None)


def test_every_key_is_read(write_config: Write) -> None:
    """Each key of the mapping reaches the typed settings."""
    text = MODELS + (
        "bastion_settings:\n  server:\n    header_timeout_seconds: 0.5\n    body_timeout_seconds: 2\n"
        "    body_min_rate_kib: 8\n    keepalive_timeout_seconds: 3\n    send_timeout_seconds: 4\n"
        "    shutdown_timeout_seconds: 5\n    max_header_kib: 16\n    max_connections: 100\n"
    )
    server = load_settings(write_config(text), environ={}).bastion.server
    assert server == ServerSettings(
        header_timeout_seconds=0.5,
        body_timeout_seconds=2.0,
        body_min_rate_kib=8.0,
        keepalive_timeout_seconds=3.0,
        send_timeout_seconds=4.0,
        shutdown_timeout_seconds=5.0,
        max_header_kib=16,
        max_connections=100,
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("header_timeout: 5", "did you mean 'header_timeout_seconds'"),
        ("header_timeout_seconds: 0", "header_timeout_seconds"),
        ("keepalive_timeout_seconds: -1", "keepalive_timeout_seconds"),
        ("max_connections: 0", "max_connections"),
        ("max_header_kib: lots", "max_header_kib"),
    ],
)
def test_bad_values_stop_start_up_with_the_key_named(write_config: Write, line: str, expected: str) -> None:
    """A misspelt key, a zero or negative timeout or a cap below 1 is a config error naming the key."""
    path = write_config(MODELS + f"bastion_settings:\n  server:\n    {line}\n")
    with pytest.raises(ConfigError, match=expected):
        load_settings(path, environ={})


def test_every_bad_key_is_reported_at_once(write_config: Write) -> None:
    """Three bad keys under ``server`` and a bad port beside it: four lines, in file order."""
    path = write_config(
        MODELS + "bastion_settings:\n  server:\n    header_timeout_seconds: 0\n    max_connections: 0\n"
        "    max_header_kb: 5\n  port: 0\n"
    )
    with pytest.raises(ConfigProblems) as caught:
        load_settings(path, environ={})
    keys = [line.split(": ", 2)[1] for line in caught.value.lines]
    assert keys == [
        "bastion_settings.server.header_timeout_seconds",
        "bastion_settings.server.max_connections",
        "bastion_settings.server.max_header_kb",
        "bastion_settings.port",
    ]
