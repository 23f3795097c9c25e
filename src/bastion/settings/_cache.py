"""Reading LiteLLM's ``litellm_settings.cache`` and ``cache_params`` into :class:`CacheSettings`."""

from __future__ import annotations

from urllib.parse import quote

from bastion.settings._known_keys import CACHE_PARAMS_KEYS
from bastion.settings._reader import MapReader
from bastion.settings.model import CacheSettings

__all__ = ["read_cache_settings"]

_TYPES = ("local", "redis")
_MODES = ("default_on", "default_off")
_SCOPES = ("global", "team", "key")


def read_cache_settings(litellm: MapReader, redis_url: str | None) -> CacheSettings:
    """``cache: true`` turns the cache on; ``cache_params`` tunes it. ``redis_url`` is the
    gateway's own Redis (``bastion_settings.redis_url``), used when ``cache_params`` names none."""
    enabled = bool(litellm.boolean("cache"))
    params = MapReader.of(litellm.get("cache_params"), litellm.at("cache_params"))
    params.reject_unknown(CACHE_PARAMS_KEYS)
    kind = params.string("type")
    if kind is not None and kind not in _TYPES:
        raise params.at("type").error(
            f"cache type '{kind}' is not supported by Bastion (expected one of: {', '.join(_TYPES)})"
        )
    url = params.string("redis_url")
    host = params.string("host")
    if url is None and host is not None:
        port = params.integer("port", minimum=1) or 6379
        password = params.string("password")
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{host}:{port}/0"
    url = url or redis_url
    if kind is None:
        kind = "redis" if url else "local"
    if kind == "redis" and url is None:
        raise params.at("type").error("a redis cache needs cache_params.host (or bastion_settings.redis_url)")
    mode = params.string("mode") or "default_on"
    if mode not in _MODES:
        raise params.at("mode").error(f"must be one of: {', '.join(_MODES)}")
    scope = params.string("scope") or "key"
    if scope not in _SCOPES:
        raise params.at("scope").error(f"must be one of: {', '.join(_SCOPES)}")
    ttl = params.number("ttl", exclusive=True)
    for name in ("default_in_redis_ttl" if kind == "redis" else "default_in_memory_ttl",):
        ttl = ttl or params.number(name, exclusive=True)
    entries = params.integer("max_entries", minimum=1) or params.integer("max_size_in_memory", minimum=1)
    return CacheSettings(
        enabled=enabled,
        type=kind,
        ttl=600.0 if ttl is None else ttl,
        namespace=params.string("namespace") or "bastion",
        mode=mode,
        scope=scope,
        max_entries=entries or 10_000,
        redis_url=url if kind == "redis" else None,
    )
