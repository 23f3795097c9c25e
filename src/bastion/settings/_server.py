"""Reading ``bastion_settings.server``: the HTTP server's limits and timeouts."""

from __future__ import annotations

from bastion.settings._known_keys import SERVER_KEYS
from bastion.settings._problems import Problems
from bastion.settings._reader import MapReader
from bastion.settings.model import ServerSettings

__all__ = ["read_server"]

_DEFAULTS = ServerSettings()


def read_server(section: MapReader, problems: Problems | None = None) -> ServerSettings:
    """The ``server`` mapping under ``bastion_settings`` (``section``); defaults when absent.

    With ``problems``, each key with a problem is noted there and takes its default; without, the
    first problem is raised.
    """
    noted = problems if problems is not None else Problems()
    server = noted.attempt(lambda: section.mapping("server"), None)
    if server is None:
        if problems is None:
            noted.raise_if_any()
        return _DEFAULTS
    noted.run(lambda: server.reject_unknown(SERVER_KEYS))

    def positive(key: str) -> float:
        value = noted.attempt(lambda: server.number(key, exclusive=True), None)
        return float(getattr(_DEFAULTS, key)) if value is None else value

    settings = ServerSettings(
        header_timeout_seconds=positive("header_timeout_seconds"),
        body_timeout_seconds=positive("body_timeout_seconds"),
        body_min_rate_kib=positive("body_min_rate_kib"),
        keepalive_timeout_seconds=positive("keepalive_timeout_seconds"),
        send_timeout_seconds=positive("send_timeout_seconds"),
        shutdown_timeout_seconds=positive("shutdown_timeout_seconds"),
        max_header_kib=_at_least_one(noted, server, "max_header_kib") or _DEFAULTS.max_header_kib,
        max_connections=_at_least_one(noted, server, "max_connections"),
    )
    if problems is None:
        noted.raise_if_any()
    return settings


def _at_least_one(noted: Problems, server: MapReader, key: str) -> int | None:
    return noted.attempt(lambda: server.integer(key, minimum=1), None)
