"""``load_settings``: a LiteLLM-compatible ``config.yaml`` (plus environment) in, frozen Settings out.

The steps: parse the file keeping line numbers, merge ``include:`` files, add the file's
``environment_variables`` to a copy of the environment (``os.environ`` itself is never changed),
resolve every ``os.environ/NAME`` reference, then read each section into typed values. Every
problem found (each unset variable, each unknown key, each bad section or deployment) is collected,
and the load then fails with a :class:`ConfigError` holding one line per problem, each naming file,
line and key path (a :class:`~bastion.settings._problems.ConfigProblems` when there are several).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
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
from bastion.settings._problems import Problems
from bastion.settings._reader import MapReader, freeze
from bastion.settings._sections import (
    GroupNames,
    RouterChoices,
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

    Raises :class:`~bastion.domain.errors.ConfigError` with one line per problem, such as
    ``config.yaml:12: model_list[1].litellm_params.api_key: environment variable X is not set``.
    """
    source = Path(path)
    problems = Problems()
    top = _load_mapping(source, str(source))
    problems.run(lambda: top.reject_unknown(TOP_LEVEL_KEYS, list_known=False))
    problems.run(lambda: _merge_includes(top, source, problems))
    base = os.environ if environ is None else environ
    env = problems.attempt(lambda: _environment(top, base), base)
    for key, value in top.data.items():
        if key != _ENV_SECTION:
            # Unset variables are reported, and left absent so the rest of the section is still read.
            problems.run(partial(resolve_env_references, value, top.at(key), env))
    settings = _build(source, top, env, problems)
    problems.raise_if_any()
    return settings


def _load_mapping(path: Path, display: str) -> MapReader:
    data = load_yaml_file(path, display)
    where = Where(Mark(display, None))
    if data is None:
        raise where.error("the file is empty (it needs at least a model_list)")
    if not isinstance(data, YamlMap):
        raise where.error("the top level must be a mapping of sections (model_list:, general_settings:, ...)")
    return MapReader(data, where)


def _merge_includes(top: MapReader, source: Path, problems: Problems) -> None:
    """Merge ``include:`` files, named relative to the including file, into ``top``.

    Lists (``model_list``) are concatenated and sections merged key by key; a key set in two
    files is an error rather than a silent override.
    """
    for _, name in top.string_items("include") or []:
        included = _load_mapping(source.parent / name, str(source.parent / name))
        problems.run(partial(included.reject_unknown, TOP_LEVEL_KEYS))
        if "include" in included:
            problems.add(included.at("include").error("an included file cannot include others"))
        for key, value in included.data.items():
            if key != "include":
                problems.run(partial(_merge_key, top.data, key, value, included.data.key_mark(key)))


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


def _build(source: Path, top: MapReader, env: Mapping[str, str], problems: Problems) -> Settings:
    """Read every section; a problem in one is noted and the others are still read."""
    general = _section(top, "general_settings", GENERAL_SETTINGS_KEYS, problems)
    litellm = _section(top, "litellm_settings", LITELLM_SETTINGS_KEYS, problems)
    router = _section(top, "router_settings", ROUTER_SETTINGS_KEYS, problems)
    none: tuple[Deployment, ...] = ()
    model_list = problems.attempt(lambda: _model_list(top, env, problems), none)
    model_groups = _group(model_list)
    # Every name written in model_list, read or not: a deployment with a problem of its own must not
    # make each reference to its group a second problem.
    groups = GroupNames(dict.fromkeys([*model_groups, *_written_group_names(top)]))
    master_key = problems.attempt(lambda: _master_key(general, env), None)
    defaults = Settings(source=source, model_list=(), model_groups=MappingProxyType({}))
    choices = problems.attempt(lambda: read_router_choices(router, litellm), _DEFAULT_CHOICES)
    bastion = read_bastion_settings(
        _mapping(top, "bastion_settings", problems),
        general,
        router,
        groups,
        master_key,
        source.parent,
        env,
        problems=problems,
    )
    return Settings(
        source=source,
        model_list=model_list,
        model_groups=model_groups,
        master_key=master_key,
        database_url=problems.attempt(lambda: general.string("database_url"), None)
        or env.get("DATABASE_URL")
        or None,
        data_dir=problems.attempt(lambda: _data_dir(source, top, env), None),
        drop_params=bool(problems.attempt(lambda: litellm.boolean("drop_params"), None)),
        num_retries=choices.num_retries,
        retry_after=choices.retry_after,
        timeout=choices.timeout,
        stream_timeout=choices.stream_timeout,
        fallbacks=problems.attempt(
            lambda: read_fallbacks(router, litellm, "fallbacks", groups), defaults.fallbacks
        ),
        context_window_fallbacks=problems.attempt(
            lambda: read_fallbacks(router, litellm, "context_window_fallbacks", groups),
            defaults.context_window_fallbacks,
        ),
        routing_strategy=choices.routing_strategy,
        allowed_fails=choices.allowed_fails,
        cooldown_time=choices.cooldown_time,
        lowest_latency_buffer=problems.attempt(lambda: _latency_buffer(router), 0.0),
        cache=problems.attempt(lambda: read_cache_settings(litellm, bastion.redis_url), defaults.cache),
        bastion=bastion,
        billing=problems.attempt(lambda: read_billing_settings(top.mapping("billing_settings"), env), None),
        general=freeze(general.data),
        litellm=freeze(litellm.data),
        router=freeze(router.data),
    )


_DEFAULT_CHOICES = RouterChoices(
    num_retries=2,
    retry_after=0.0,
    timeout=600.0,
    stream_timeout=None,
    routing_strategy="simple-shuffle",
    allowed_fails=3,
    cooldown_time=5.0,
)


def _model_list(top: MapReader, env: Mapping[str, str], problems: Problems) -> tuple[Deployment, ...]:
    entries = top.sequence("model_list")
    if entries is None:
        raise top.missing("model_list", "is required (the models this gateway serves)")
    return read_model_list(entries, env, problems)


def _written_group_names(top: MapReader) -> list[str]:
    entries = top.get("model_list")
    if not isinstance(entries, list):
        return []
    names = (entry.get("model_name") for entry in entries if isinstance(entry, dict))
    return [name for name in names if isinstance(name, str) and name]


def _mapping(top: MapReader, key: str, problems: Problems) -> MapReader:
    """The section ``key`` (empty when absent, or when it is not a mapping: that is noted)."""
    empty = MapReader.of(None, top.at(key))
    return problems.attempt(lambda: MapReader.of(top.get(key), top.at(key)), empty)


def _data_dir(source: Path, top: MapReader, env: Mapping[str, str]) -> Path | None:
    section = MapReader.of(top.get("bastion_settings"), top.at("bastion_settings"))
    value = section.string("data_dir") or env.get("BASTION_DATA_DIR") or None
    return None if value is None else source.resolve().parent / Path(value).expanduser()


def _latency_buffer(router: MapReader) -> float:
    args = MapReader.of(router.get("routing_strategy_args"), router.at("routing_strategy_args"))
    return args.number("lowest_latency_buffer") or 0.0


def _section(top: MapReader, key: str, known: frozenset[str], problems: Problems) -> MapReader:
    section = _mapping(top, key, problems)
    problems.run(lambda: section.reject_unknown(known, list_known=False))  # LiteLLM's
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
