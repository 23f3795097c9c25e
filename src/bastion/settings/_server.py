"""Reading ``bastion_settings.server``: the HTTP server's limits and timeouts."""

from __future__ import annotations

from bastion.settings._known_keys import SERVER_KEYS
from bastion.settings._reader import MapReader
from bastion.settings.model import ServerSettings

__all__ = ["read_server"]

_DEFAULTS = ServerSettings()


def read_server(section: MapReader) -> ServerSettings:
    """The ``server`` mapping of ``bastion_settings``; every timeout must be above zero."""
    found = section.mapping("server")
    if found is None:
        return _DEFAULTS
    found.reject_unknown(SERVER_KEYS)

    def seconds(key: str) -> float:
        value = found.number(key, exclusive=True)
        return float(getattr(_DEFAULTS, key)) if value is None else value

    max_header = found.integer("max_header_kib", minimum=1)
    max_connections = found.integer("max_connections", minimum=1)
    return ServerSettings(
        header_timeout_seconds=seconds("header_timeout_seconds"),
        body_timeout_seconds=seconds("body_timeout_seconds"),
        body_min_rate_kib=seconds("body_min_rate_kib"),
        keepalive_timeout_seconds=seconds("keepalive_timeout_seconds"),
        send_timeout_seconds=seconds("send_timeout_seconds"),
        shutdown_timeout_seconds=seconds("shutdown_timeout_seconds"),
        max_header_kib=_DEFAULTS.max_header_kib if max_header is None else max_header,
        max_connections=max_connections,
    )
