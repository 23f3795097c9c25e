"""Typed, frozen settings from a LiteLLM-compatible ``config.yaml`` plus the environment.

Built once at start-up with :func:`load_settings` and passed down; nothing else in Bastion reads
the environment.
"""

from __future__ import annotations

from bastion.domain.secret import Secret
from bastion.settings.loader import load_settings
from bastion.settings.model import (
    USER_KEY_MODES,
    AccountSettings,
    BastionSettings,
    BrowserSettings,
    CacheSettings,
    Deployment,
    EndUserLimits,
    JwtAuthSettings,
    ModelInfo,
    OverloadSettings,
    RouteRule,
    ServerSettings,
    Settings,
    StaticKey,
)

__all__ = [
    "USER_KEY_MODES",
    "AccountSettings",
    "BastionSettings",
    "BrowserSettings",
    "CacheSettings",
    "Deployment",
    "EndUserLimits",
    "JwtAuthSettings",
    "ModelInfo",
    "OverloadSettings",
    "RouteRule",
    "Secret",
    "ServerSettings",
    "Settings",
    "StaticKey",
    "load_settings",
]
