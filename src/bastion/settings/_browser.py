"""Reading ``bastion_settings.browser``: the token-stream endpoints that web pages call directly.

Everything that makes these endpoints safe to expose to browsers is checked here, at start-up:
origins are exact (``scheme://host[:port]``), ``"*"`` never goes with credentials, tokens live
minutes, not days, and the directories served for the demo exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from bastion.domain.secret import Secret
from bastion.settings._known_keys import BROWSER_KEYS, BROWSER_USER_LIMIT_KEYS
from bastion.settings._reader import MapReader
from bastion.settings.model import BrowserSettings, EndUserLimits

if TYPE_CHECKING:
    from bastion.settings._sections import GroupNames

__all__ = ["MAX_TOKEN_TTL_SECONDS", "read_browser"]

#: No browser token lives longer than this, whatever the config says.
MAX_TOKEN_TTL_SECONDS = 3600.0
_MIN_SECRET = 32
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_PATH = re.compile(r"/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~\-]")


def read_browser(section: MapReader, groups: GroupNames, config_dir: Path) -> BrowserSettings | None:
    """The ``browser`` mapping under ``bastion_settings`` (``section``), or ``None`` when absent."""
    if section.get("browser") is None:
        return None
    browser = MapReader.of(section.get("browser"), section.at("browser"))
    browser.reject_unknown(BROWSER_KEYS)
    defaults = BrowserSettings()
    paths: dict[str, str] = {}
    for key in ("anthropic_path", "openai_path", "token_path"):
        value = browser.string(key) or getattr(defaults, key)
        if not _PATH.fullmatch(value):
            raise browser.at(key).error("must be a path such as '/api/anthropic' (no trailing slash)")
        if value in paths.values():
            raise browser.at(key).error(f"'{value}' is already used by another browser endpoint")
        paths[key] = value
    models = browser.string_items("models") or []
    for where, model in models:
        groups.check(model, where)
    credentials = bool(browser.boolean("cors_allow_credentials"))
    origins: list[str] = []
    for where, origin in browser.string_items("cors_origins") or []:
        if origin == "*":
            if credentials:
                raise where.error(
                    "'*' may not be used with cors_allow_credentials: list the exact origins instead"
                )
        elif not _ORIGIN.fullmatch(origin):
            raise where.error(
                "must be an origin: scheme, host and optional port, such as 'https://app.example.com' "
                "(no path, no trailing slash)"
            )
        origins.append(origin.lower())
    ttl = browser.number("token_ttl_seconds", exclusive=True) or defaults.token_ttl_seconds
    max_ttl = browser.number("token_max_ttl_seconds", exclusive=True) or defaults.token_max_ttl_seconds
    if max_ttl > MAX_TOKEN_TTL_SECONDS:
        raise browser.at("token_max_ttl_seconds").error(
            f"browser tokens live minutes; at most {MAX_TOKEN_TTL_SECONDS:g} seconds"
        )
    if ttl > max_ttl:
        raise browser.at("token_ttl_seconds").error(f"must not exceed token_max_ttl_seconds ({max_ttl:g})")
    secret = browser.string("token_secret")
    if secret is not None and len(secret) < _MIN_SECRET:
        raise browser.at("token_secret").error(f"must be at least {_MIN_SECRET} characters")
    return BrowserSettings(
        anthropic_path=paths["anthropic_path"],
        openai_path=paths["openai_path"],
        token_path=paths["token_path"],
        models=tuple(model for _, model in models),
        cors_origins=tuple(dict.fromkeys(origins)),
        cors_allow_credentials=credentials,
        cors_max_age_seconds=_or(browser.integer("cors_max_age_seconds"), defaults.cors_max_age_seconds),
        max_request_bytes=_or(browser.integer("max_request_bytes", minimum=256), defaults.max_request_bytes),
        max_tokens=_or(browser.integer("max_tokens", minimum=1), defaults.max_tokens),
        token_secret=None if secret is None else Secret(secret),
        token_ttl_seconds=ttl,
        token_max_ttl_seconds=max_ttl,
        user_limits=_user_limits(browser),
        static_files=_static_files(browser, config_dir),
    )


def _user_limits(browser: MapReader) -> EndUserLimits:
    limits = browser.mapping("user_limits")
    if limits is None:
        return EndUserLimits()
    limits.reject_unknown(BROWSER_USER_LIMIT_KEYS)
    return EndUserLimits(
        rpm_limit=limits.integer("rpm_limit", minimum=1),
        tpm_limit=limits.integer("tpm_limit", minimum=1),
        max_parallel_requests=limits.integer("max_parallel_requests", minimum=1),
    )


def _static_files(browser: MapReader, config_dir: Path) -> MappingProxyType[str, Path]:
    mapping = browser.string_map("static_files") or {}
    found: dict[str, Path] = {}
    for prefix, directory in mapping.items():
        where = browser.at("static_files")
        if not _PATH.fullmatch(prefix):
            raise where.error(
                f"'{prefix}' must be a URL path such as '/examples/browser' (no trailing slash)"
            )
        path = (config_dir / directory).resolve()
        if not path.is_dir():
            raise where.error(f"'{directory}' (for {prefix}) is not a directory ({path})")
        found[prefix] = path
    return MappingProxyType(found)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
