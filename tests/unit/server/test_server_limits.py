"""How ``bastion_settings.server`` becomes the limits the server enforces."""

from __future__ import annotations

import resource

from bastion.server.server import limits_from
from bastion.settings import ServerSettings


def test_settings_become_seconds_and_bytes() -> None:
    """KiB become bytes; timeouts stay seconds; an explicit connection cap is kept as given."""
    limits = limits_from(ServerSettings(max_header_kib=8, body_min_rate_kib=2, max_connections=7))
    assert (limits.max_header_bytes, limits.body_min_rate, limits.max_connections) == (8192, 2048.0, 7)
    assert (limits.header_timeout, limits.body_timeout, limits.keepalive_timeout) == (10.0, 30.0, 30.0)


def test_the_default_cap_leaves_half_the_file_descriptors_free() -> None:
    """Without ``max_connections`` the cap is half the (raised) descriptor limit, at most 10,000, so
    upstream connections, the database and log files always find a descriptor."""
    cap = limits_from(ServerSettings()).max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert cap == (10_000 if soft == resource.RLIM_INFINITY else min(10_000, soft // 2))
