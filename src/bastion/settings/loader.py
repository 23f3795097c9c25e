"""``load_settings``: a LiteLLM-compatible ``config.yaml`` (plus environment) in, frozen Settings out.

The steps: parse the file keeping line numbers, merge ``include:`` files, add the file's
``environment_variables`` to a copy of the environment (``os.environ`` itself is never changed),
resolve every ``os.environ/NAME`` reference, then read each section into typed values. The first
problem found stops the load with one :class:`ConfigError` naming file, line and key path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from bastion.domain.secret import Secret
from bastion.settings._billing import read_billing_settings
from bastion.settings._cache import read_cache_settings
from bastion.settings._deployments import read_model_list
from bastion.settings._environ import resolve_env_references
from bastion.settings._known_keys import (
    GENERAL_SETTINGS_KEYS,
    LITELLM_SETTINGS_KEYS,
    ROUTER_SETTINGS_KEYS,
    TOP_LEVEL_KEYS,
)
from bastion.settings._reader import MapReader, freeze
from bastion.settings._sections import (
    GroupNames,
    check_key_prefix,
    read_bastion_settings,
    read_fallbacks,
    read_router_choices,
)
from bastion.settings._where import Where
from bastion.settings._yaml import Mark, YamlList, YamlMap, load_yaml_file
from bastion.settings.model import Deployment, Settings

__all__ = ["load_settings"]

# Checked in this order when general_settings has no master_key.
_MASTER_KEY_VARIABLES = ("BASTION_MASTER_KEY", "LITELLM_MASTER_KEY")
_ENV_SECTION = "environment_variables"


def load_settings(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and check the configuration file at ``path``; ``environ`` defaults to ``os.environ``.

    Raises :class:`~bastion.domain.errors.ConfigError` with a one-line message such as
    ``config.yaml:12: model_list[1].litellm_params.api_key: environment variable X is not set``.
    """
    source = Path(path)
    top = _load_mapping(source, str(source))
    top.reject_unknown(TOP_LEVEL_KEYS)
    _merge_includes(top, source)
    env = _environment(top, os.environ if environ is None else environ)
    for key, value in top.data.items():
        if key != _ENV_SECTION:
            top.data[key] = resolve_env_references(value, top.at(key), env)
    return _build(source, top, env)


def _load_mapping(path: Path, display: str) -> MapReader:
    data = load_yaml_file(path, display)
    where = Where(Mark(display, None))
    if data is None:
        raise where.error("the file is empty (it needs at least a model_list)")
    if not isinstance(data, YamlMap):
        raise where.error("the top level must be a mapping of sections (model_list:, general_settings:, ...)")
    return MapReader(data, where)


def _merge_includes(top: MapReader, source: Path) -> None:
    """Merge ``include:`` files, named relative to the including file, into ``top``.

    Lists (``model_list``) are concatenated and sections merged key by key; a key set in two
    files is an error rather than a silent override.
    """
    for _, name in top.string_items("include") or []:
        included = _load_mapping(source.parent / name, str(source.parent / name))
        included.reject_unknown(TOP_LEVEL_KEYS)
        if "include" in included:
            raise included.at("include").error("an included file cannot include others")
        for key, value in included.data.items():
            _merge_key(top.data, key, value, included.data.key_mark(key))


def _merge_key(root: YamlMap, key: str, value: object, mark: Mark) -> None:
    existing = root.get(key)
    if value is None:
        return
    if existing is None:
        root[key] = value
        root.key_marks[key] = mark
    elif isinstance(existing, YamlList) and isinstance(value, YamlList):
        existing.extend(value)
        existing.item_marks.extend(value.item_marks)
    elif isinstance(existing, YamlMap) and isinstance(value, YamlMap):
        for sub_key, sub_value in value.items():
            if existing.get(sub_key) is not None:
                clash = Where(value.key_mark(sub_key), f"{key}.{sub_key}")
                raise clash.error(f"also set in {existing.key_mark(sub_key)}")
            existing[sub_key] = sub_value
            existing.key_marks[sub_key] = value.key_mark(sub_key)
    else:
        raise Where(mark, key).error(f"also set in {root.key_mark(key)}")


def _environment(top: MapReader, base: Mapping[str, str]) -> Mapping[str, str]:
    """``base`` plus the file's ``environment_variables`` (which win, as LiteLLM sets them)."""
    section = top.mapping(_ENV_SECTION)
    if section is None:
        return base
    resolve_env_references(section.data, section.where, base)
    merged = dict(base)
    merged.update(_env_values(section))
    return MappingProxyType(merged)


def _env_values(section: MapReader) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in section.data.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        else:
            raise section.at(name).error("must be a string, a number or true/false")
    return values


def _build(source: Path, top: MapReader, env: Mapping[str, str]) -> Settings:
    general = _section(top, "general_settings", GENERAL_SETTINGS_KEYS)
    litellm = _section(top, "litellm_settings", LITELLM_SETTINGS_KEYS)
    router = _section(top, "router_settings", ROUTER_SETTINGS_KEYS)
    entries = top.sequence("model_list")
    if entries is None:
        raise top.missing("model_list", "is required (the models this gateway serves)")
    model_list = read_model_list(entries, env)
    model_groups = _group(model_list)
    groups = GroupNames(model_groups)
    master_key = _master_key(general, env)
    choices = read_router_choices(router, litellm)
    bastion = read_bastion_settings(
        MapReader.of(top.get("bastion_settings"), top.at("bastion_settings")),
        general,
        router,
        groups,
        master_key,
        source.parent,
        env,
    )
    return Settings(
        source=source,
        model_list=model_list,
        model_groups=model_groups,
        master_key=master_key,
        database_url=general.string("database_url") or env.get("DATABASE_URL") or None,
        data_dir=_data_dir(source, top, env),
        drop_params=bool(litellm.boolean("drop_params")),
        num_retries=choices.num_retries,
        retry_after=choices.retry_after,
        timeout=choices.timeout,
        stream_timeout=choices.stream_timeout,
        fallbacks=read_fallbacks(router, litellm, "fallbacks", groups),
        context_window_fallbacks=read_fallbacks(router, litellm, "context_window_fallbacks", groups),
        routing_strategy=choices.routing_strategy,
        allowed_fails=choices.allowed_fails,
        cooldown_time=choices.cooldown_time,
        lowest_latency_buffer=_latency_buffer(router),
        cache=read_cache_settings(litellm, bastion.redis_url),
        bastion=bastion,
        billing=read_billing_settings(top.mapping("billing_settings"), env),
        general=freeze(general.data),
        litellm=freeze(litellm.data),
        router=freeze(router.data),
    )


def _data_dir(source: Path, top: MapReader, env: Mapping[str, str]) -> Path | None:
    section = MapReader.of(top.get("bastion_settings"), top.at("bastion_settings"))
    value = section.string("data_dir") or env.get("BASTION_DATA_DIR") or None
    return None if value is None else source.resolve().parent / Path(value).expanduser()


def _latency_buffer(router: MapReader) -> float:
    args = MapReader.of(router.get("routing_strategy_args"), router.at("routing_strategy_args"))
    return args.number("lowest_latency_buffer") or 0.0


def _section(top: MapReader, key: str, known: frozenset[str]) -> MapReader:
    section = MapReader.of(top.get(key), top.at(key))
    section.reject_unknown(known)
    return section


def _group(model_list: tuple[Deployment, ...]) -> Mapping[str, tuple[Deployment, ...]]:
    grouped: dict[str, list[Deployment]] = {}
    for deployment in model_list:
        grouped.setdefault(deployment.model_name, []).append(deployment)
    return MappingProxyType({name: tuple(members) for name, members in grouped.items()})


def _master_key(general: MapReader, env: Mapping[str, str]) -> Secret | None:
    configured = general.string("master_key")
    if configured is not None:
        return check_key_prefix(configured, general.at("master_key"), "the master key")
    for variable in _MASTER_KEY_VARIABLES:
        value = env.get(variable)
        if value:
            where = general.where.key("master_key", Mark(general.where.mark.file, None))
            note = f" (from environment variable {variable})"
            return check_key_prefix(value, where, "the master key", note)
    return None
