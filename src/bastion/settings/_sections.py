"""Reading the settings sections other than ``model_list``: router, LiteLLM, general and Bastion's own.

Where LiteLLM lets a setting sit in either ``router_settings`` or ``litellm_settings``, the router
one wins, as in LiteLLM.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import quote

from bastion.domain.secret import Secret
from bastion.settings._accounts import read_account_settings
from bastion.settings._browser import read_browser
from bastion.settings._environ import EnvString
from bastion.settings._jwt_auth import read_jwt_auth
from bastion.settings._known_keys import BASTION_SETTINGS_KEYS, ROUTING_STRATEGIES, STATIC_KEY_KEYS
from bastion.settings._overload import read_overload
from bastion.settings._plans import PLAN_ID, read_plans
from bastion.settings._problems import Problems
from bastion.settings._reader import MapReader, describe
from bastion.settings._routes import read_routes
from bastion.settings._server import read_server
from bastion.settings._where import Where
from bastion.settings._yaml import Mark
from bastion.settings.model import BastionSettings, StaticKey

__all__ = ["GroupNames", "RouterChoices", "read_bastion_settings", "read_fallbacks", "read_router_choices"]

_T = TypeVar("_T")
_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_KEY_PREFIX = "sk-"


class GroupNames:
    """The configured model group names, for checking references (``*`` wildcard groups match too)."""

    __slots__ = ("_names", "_patterns")

    def __init__(self, names: Collection[str]) -> None:
        self._names = list(names)
        self._patterns = [name for name in self._names if "*" in name]

    def check(self, name: str, where: Where) -> None:
        if name in self._names or any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns):
            return
        close = difflib.get_close_matches(name, self._names, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"model groups: {', '.join(self._names)}"
        raise where.error(f"'{name}' is not a model group in model_list ({hint})")


@dataclass(frozen=True, slots=True)
class RouterChoices:
    """The router settings :class:`Settings` types, after LiteLLM's precedence rules."""

    num_retries: int
    retry_after: float
    timeout: float
    stream_timeout: float | None
    routing_strategy: str
    allowed_fails: int
    cooldown_time: float


def _first(*sections: tuple[MapReader, str]) -> tuple[MapReader, str] | None:
    """The first (section, key) pair whose key is set."""
    return next(((section, name) for section, name in sections if name in section), None)


def read_router_choices(router: MapReader, litellm: MapReader) -> RouterChoices:
    """Retries, timeouts, strategy and cooldowns from ``router_settings`` then ``litellm_settings``."""

    def integer(key: str, default: int) -> int:
        found = _first((router, key), (litellm, key))
        value = found[0].integer(found[1]) if found else None
        return default if value is None else value

    def number(key: str, default: float, *, exclusive: bool = False) -> float:
        found = _first((router, key), (litellm, key))
        value = found[0].number(found[1], exclusive=exclusive) if found else None
        return default if value is None else value

    timeout_source = _first((router, "timeout"), (litellm, "request_timeout"))
    timeout = timeout_source[0].number(timeout_source[1], exclusive=True) if timeout_source else None
    strategy = router.string("routing_strategy") or "simple-shuffle"
    if strategy not in ROUTING_STRATEGIES:
        raise router.at("routing_strategy").error(
            f"unknown routing strategy '{strategy}' (expected one of: {', '.join(ROUTING_STRATEGIES)})"
        )
    return RouterChoices(
        num_retries=integer("num_retries", 2),
        retry_after=number("retry_after", 0.0),
        timeout=600.0 if timeout is None else timeout,
        stream_timeout=router.number("stream_timeout", exclusive=True),
        routing_strategy=strategy,
        allowed_fails=integer("allowed_fails", 3),
        cooldown_time=number("cooldown_time", 5.0),
    )


def read_fallbacks(
    router: MapReader, litellm: MapReader, key: str, groups: GroupNames
) -> Mapping[str, tuple[str, ...]]:
    """LiteLLM's fallback list, ``[{"gpt-4": ["gpt-3.5"]}, ...]``, as group -> ordered fallbacks."""
    found = _first((router, key), (litellm, key))
    if found is None:
        return MappingProxyType({})
    section, name = found
    result: dict[str, tuple[str, ...]] = {}
    for where, raw in section.sequence(name) or ():
        if not isinstance(raw, dict):
            raise where.error(f"must be a mapping like {{gpt-4: [gpt-4o-mini]}}, got {describe(raw)}")
        entry = MapReader.of(raw, where)
        for group in entry.data:
            groups.check(group, entry.at(group))
            if group in result:
                raise entry.at(group).error(f"fallbacks for '{group}' are listed twice")
            single = entry.get(group)
            if isinstance(single, str):
                targets = [(entry.at(group), str(single))]
            else:
                targets = entry.string_items(group) or []
            for target_where, target in targets:
                groups.check(target, target_where)
            result[group] = tuple(target for _, target in targets)
    return MappingProxyType(result)


def read_bastion_settings(
    section: MapReader,
    general: MapReader,
    router: MapReader,
    groups: GroupNames,
    master_key: Secret | None,
    config_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    problems: Problems | None = None,
) -> BastionSettings:
    """``bastion_settings``: unlike LiteLLM's sections, every key here must be known.

    With ``problems``, each part with a problem is noted there and takes its default; without, the
    first problem is raised.
    """
    noted = problems if problems is not None else Problems()
    d = BastionSettings()

    def read(part: Callable[[], _T], default: _T) -> _T:
        return noted.attempt(part, default)

    noted.run(lambda: section.reject_unknown(BASTION_SETTINGS_KEYS))
    size = read(lambda: section.number("max_request_size_mb", exclusive=True), None)
    if size is None:
        size = read(lambda: general.number("max_request_size_mb", exclusive=True), None)
    accounts = read(lambda: MapReader.of(section.get("accounts"), section.at("accounts")), None)
    settings = BastionSettings(
        static_keys=read(lambda: _read_static_keys(section, groups, master_key), d.static_keys),
        max_request_size_mb=32.0 if size is None else size,
        default_max_tokens=_default(
            read(lambda: section.integer("default_max_tokens", minimum=1), None), d.default_max_tokens
        ),
        log_level=read(lambda: _log_level(section), d.log_level),
        json_logs=_default(read(lambda: section.boolean("json_logs"), None), d.json_logs),
        log_requests=_default(read(lambda: section.boolean("log_requests"), None), d.log_requests),
        stream_keepalive_seconds=_default(
            read(lambda: section.number("stream_keepalive_seconds", exclusive=True), None),
            d.stream_keepalive_seconds,
        ),
        host=read(lambda: section.string("host"), None) or d.host,
        port=read(lambda: _port(section), d.port),
        redis_url=read(lambda: _redis_url(section, general, router), None),
        jwt_auth=read(lambda: read_jwt_auth(section, groups, config_dir), None),
        accounts=d.accounts
        if accounts is None
        else read(lambda: read_account_settings(accounts, env or {}), d.accounts),
        routes=read(lambda: read_routes(section.sequence("routes"), groups), d.routes),
        browser=read(lambda: read_browser(section, groups, config_dir), None),
        otlp_endpoint=read(lambda: _otlp_endpoint(section, env or {}), None),
        otlp_service_name=read(lambda: section.string("otlp_service_name"), None) or d.otlp_service_name,
        plans=read(lambda: read_plans(section, groups), d.plans),
        default_plan=read(lambda: _default_plan(section), None),
        overload=read_overload(section, noted),
        server=read_server(section, noted),
        allow_unpriced_models_with_budgets=_default(
            read(lambda: section.boolean("allow_unpriced_models_with_budgets"), None),
            d.allow_unpriced_models_with_budgets,
        ),
        spend_journal=_default(read(lambda: section.boolean("spend_journal"), None), d.spend_journal),
        response_retention_days=_default(
            read(lambda: section.number("response_retention_days", exclusive=True), None),
            d.response_retention_days,
        ),
        allow_requests_on_db_unavailable=_default(
            read(lambda: general.boolean("allow_requests_on_db_unavailable"), None),
            d.allow_requests_on_db_unavailable,
        ),
        key_cache_ttl=_default(read(lambda: general.number("user_api_key_cache_ttl"), None), d.key_cache_ttl),
    )
    if problems is None:
        noted.raise_if_any()
    return settings


def _default_plan(section: MapReader) -> str | None:
    """``default_plan``: a plan of ``plans``, or one to be made through ``/budget/new``."""
    name = section.string("default_plan")
    if name is not None and not PLAN_ID.fullmatch(name):
        raise section.at("default_plan").error("must be a plan's name")
    return name


def _log_level(section: MapReader) -> str:
    log_level = (section.string("log_level") or "info").lower()
    if log_level not in _LOG_LEVELS:
        raise section.at("log_level").error(f"must be one of: {', '.join(_LOG_LEVELS)}")
    return log_level


def _port(section: MapReader) -> int:
    port = section.integer("port", minimum=1)
    if port is not None and port > 65535:
        raise section.at("port").error(f"must be at most 65535, got {port}")
    return 4000 if port is None else port


def _otlp_endpoint(section: MapReader, env: Mapping[str, str]) -> str | None:
    """``otlp_endpoint``, else OpenTelemetry's own ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    endpoint = section.string("otlp_endpoint")
    where = section.at("otlp_endpoint")
    if endpoint is None and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        where = section.where.key("otlp_endpoint", Mark(section.where.mark.file, None))
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise where.error(
            f"must be an http:// or https:// URL of an OTLP/HTTP collector, got '{endpoint}'"
            + ("" if section.string("otlp_endpoint") else " (from OTEL_EXPORTER_OTLP_ENDPOINT)")
        )
    return endpoint or None


def _read_static_keys(
    section: MapReader, groups: GroupNames, master_key: Secret | None
) -> tuple[StaticKey, ...]:
    entries = section.sequence("static_keys")
    if entries is None:
        return ()
    keys: list[StaticKey] = []
    for where, raw in entries:
        entry = MapReader.of(raw, where)
        entry.reject_unknown(STATIC_KEY_KEYS)
        key = check_key_prefix(entry.require_string("key"), entry.at("key"), "a static key")
        if any(existing.key == key for existing in keys):
            raise entry.at("key").error("the same key is listed twice")
        if master_key is not None and key == master_key:
            raise entry.at("key").error("a static key must differ from the master key")
        models = entry.string_items("models") or []
        for model_where, model in models:
            groups.check(model, model_where)
        keys.append(StaticKey(key=key, alias=entry.string("alias"), models=tuple(name for _, name in models)))
    return tuple(keys)


def check_key_prefix(value: str, where: Where, what: str, note: str = "") -> Secret:
    """Wrap a Bastion key, which must start with ``sk-`` as LiteLLM requires."""
    if isinstance(value, EnvString) and not note:
        note = f" (from environment variable {value.variable})"
    if not value.startswith(_KEY_PREFIX):
        raise where.error(f"{what} must start with '{_KEY_PREFIX}' (LiteLLM's rule){note}")
    return Secret(value)


def _redis_url(section: MapReader, general: MapReader, router: MapReader) -> str | None:
    for reader in (section, general, router):
        url = reader.string("redis_url")
        if url is not None:
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise reader.at("redis_url").error("must be a redis://, rediss:// or unix:// URL")
            return url
    host = router.string("redis_host")
    if host is None:
        return None
    port = router.integer("redis_port", minimum=1) or 6379
    password = router.string("redis_password")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{router.integer('redis_db') or 0}"


def _default(value: _T | None, default: _T) -> _T:
    return default if value is None else value
