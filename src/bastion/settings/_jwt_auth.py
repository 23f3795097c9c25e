"""Reading ``bastion_settings.jwt_auth``: end-user tokens signed by an identity provider.

Keys written in the config (``jwk``, ``jwks``, ``jwks_file``) are read and checked here, so a
private key, a shared secret or a refused algorithm stops the start with file, line and key path.
A ``jwks_url`` is only checked for shape: it is fetched at run time.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from bastion.settings._known_keys import JWT_AUTH_KEYS, JWT_USER_LIMIT_KEYS
from bastion.settings._reader import MapReader, describe
from bastion.settings._where import Where
from bastion.settings.jwk_rules import ASYMMETRIC_ALGORITHMS, algorithm_problem, jwk_problem
from bastion.settings.model import EndUserLimits, JwtAuthSettings

if TYPE_CHECKING:
    from bastion.settings._sections import GroupNames

__all__ = ["read_jwt_auth"]

_KEY_SOURCES = ("jwk", "jwks", "jwks_file", "jwks_url")
_DURATION = re.compile(r"(\d+)(mo|[smhdw])")
_CLAIM = re.compile(r"[^.\s]+(\.[^.\s]+)*")


def read_jwt_auth(section: MapReader, groups: GroupNames, config_dir: Path) -> JwtAuthSettings | None:
    """The ``jwt_auth`` mapping under ``bastion_settings`` (``section``), or ``None`` when absent."""
    auth = section.mapping("jwt_auth")
    if auth is None:
        return None
    auth.reject_unknown(JWT_AUTH_KEYS)
    given = [name for name in _KEY_SOURCES if name in auth]
    if len(given) != 1:
        message = "give the public keys in exactly one of: " + ", ".join(_KEY_SOURCES)
        if given:
            raise auth.at(given[1]).error(f"{message} (both {given[0]} and {given[1]} are set)")
        raise auth.missing(_KEY_SOURCES[0], message)
    source = given[0]
    keys: tuple[Any, ...] = ()
    url = None
    if source == "jwks_url":
        url = _jwks_url(auth.require_string("jwks_url"), auth.at("jwks_url"))
    elif source == "jwk":
        keys = (_checked_key(_json_value(auth.get("jwk"), auth.at("jwk")), auth.at("jwk")),)
    elif source == "jwks":
        keys = _key_set(_json_value(auth.get("jwks"), auth.at("jwks")), auth.at("jwks"))
    else:
        keys = _key_set(
            _file_value(auth.require_string("jwks_file"), auth.at("jwks_file"), config_dir),
            auth.at("jwks_file"),
        )
    models = auth.string_items("models") or []
    for where, model in models:
        groups.check(model, where)
    return JwtAuthSettings(
        issuer=auth.require_string("issuer"),
        audiences=_audiences(auth),
        algorithms=_algorithms(auth),
        keys=keys,
        jwks_url=url,
        jwks_cache_seconds=_or(auth.number("jwks_cache_seconds", exclusive=True), 300.0),
        jwks_min_refresh_seconds=_or(auth.number("jwks_min_refresh_seconds"), 60.0),
        jwks_timeout_seconds=_or(auth.number("jwks_timeout_seconds", exclusive=True), 5.0),
        leeway_seconds=_or(auth.number("leeway_seconds"), 30.0),
        user_claim=_claim(auth, "user_claim") or "sub",
        team_claim=_claim(auth, "team_claim"),
        models_claim=_claim(auth, "models_claim"),
        plan_claim=_claim(auth, "plan_claim"),
        default_models=tuple(model for _, model in models),
        user_limits=_user_limits(auth),
    )


def _audiences(auth: MapReader) -> tuple[str, ...]:
    value = auth.get("audience")
    if value is None:
        raise auth.missing("audience", "is required (the 'aud' your identity provider puts in tokens)")
    if isinstance(value, str):
        return (auth.require_string("audience"),)
    items = auth.strings("audience") or ()
    if not items:
        raise auth.at("audience").error("must name at least one audience")
    return items


def _algorithms(auth: MapReader) -> tuple[str, ...]:
    items = auth.string_items("algorithms")
    if items is None:
        return ASYMMETRIC_ALGORITHMS
    if not items:
        raise auth.at("algorithms").error("must list at least one algorithm (or be left out)")
    for where, name in items:
        problem = algorithm_problem(name)
        if problem is not None:
            raise where.error(problem)
    return tuple(dict.fromkeys(name for _, name in items))


def _claim(auth: MapReader, key: str) -> str | None:
    name = auth.string(key)
    if name is not None and not _CLAIM.fullmatch(name):
        raise auth.at(key).error("must be a claim name, or a dotted path such as 'org.team_id'")
    return name


def _user_limits(auth: MapReader) -> EndUserLimits:
    limits = auth.mapping("user_limits")
    if limits is None:
        return EndUserLimits()
    limits.reject_unknown(JWT_USER_LIMIT_KEYS)
    duration = limits.string("budget_duration")
    if duration is not None:
        found = _DURATION.fullmatch(duration.strip())
        if found is None or int(found.group(1)) == 0:
            raise limits.at("budget_duration").error(
                "must be a whole number followed by s, m, h, d, w or mo, e.g. '30d' or '1mo'"
            )
        if limits.get("max_budget") is None:
            raise limits.at("budget_duration").error("needs a max_budget to reset")
    return EndUserLimits(
        rpm_limit=limits.integer("rpm_limit"),
        tpm_limit=limits.integer("tpm_limit"),
        max_parallel_requests=limits.integer("max_parallel_requests"),
        max_budget=limits.number("max_budget"),
        budget_duration=None if duration is None else duration.strip(),
    )


def _jwks_url(url: str, where: Where) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise where.error("must be an https:// URL (plain http:// only to localhost)")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_value(value: Any, where: Where) -> Any:
    """A mapping from YAML, or a string of JSON (e.g. from ``os.environ/JWT_PUBLIC_JWK``), as plain data."""
    if isinstance(value, str):
        try:
            return orjson.loads(str(value))  # an env string is a str subclass, which orjson refuses
        except orjson.JSONDecodeError:
            raise where.error("must be a mapping, or a string of JSON; this string is not JSON") from None
    if not isinstance(value, dict):
        raise where.error(f"must be a mapping, or a string of JSON, got {describe(value)}")
    try:
        return orjson.loads(orjson.dumps(value))  # YAML mappings and env strings to plain JSON values
    except TypeError:
        raise where.error("must hold only JSON values (strings, numbers, lists, mappings)") from None


def _file_value(name: str, where: Where, config_dir: Path) -> Any:
    path = config_dir / name
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise where.error(f"cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise where.error(f"{path} is not a JSON document") from None


def _key_set(document: Any, where: Where) -> tuple[Any, ...]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise where.error("must be a JWKS document: a mapping with a 'keys' list")
    keys = document["keys"]
    if not keys:
        raise where.error("the 'keys' list is empty")
    checked = tuple(
        _checked_key(key, Where(where.mark, f"{where.path}.keys[{i}]")) for i, key in enumerate(keys)
    )
    kids = [key.get("kid") for key in checked if key.get("kid") is not None]
    if len(kids) != len(set(kids)):
        raise where.error("two keys share one 'kid'")
    return checked


def _checked_key(jwk: Any, where: Where) -> Any:
    if not isinstance(jwk, dict):
        raise where.error(f"must be a JWK (a mapping with 'kty'), got {describe(jwk)}")
    problem = jwk_problem(jwk)
    if problem is not None:
        raise where.error(f"this key {problem}")
    return MappingProxyType(jwk)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
