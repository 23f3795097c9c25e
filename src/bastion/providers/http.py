"""The pooled HTTP client the providers call upstreams with (it lives in :mod:`bastion.outbound.http`,
shared with billing and the JWKS fetch; the names stay here for the provider code)."""

from __future__ import annotations

from bastion.outbound.http import HttpPool, UpstreamStream

__all__ = ["HttpPool", "UpstreamStream"]
