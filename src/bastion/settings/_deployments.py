"""Reading ``model_list`` entries into :class:`Deployment` values.

``litellm_params`` takes any key (they are completion defaults forwarded to the upstream), but the
ones Bastion acts on are typed and checked here, and so are the common completion defaults.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

from bastion.domain.secret import Secret
from bastion.settings._known_keys import MODEL_ENTRY_KEYS
from bastion.settings._problems import Problems
from bastion.settings._providers import ProviderAlias, normalize_api_base, split_model
from bastion.settings._reader import ListReader, MapReader, freeze, read_bool, read_int, read_number
from bastion.settings._where import Where
from bastion.settings.model import Deployment, ModelInfo

__all__ = ["read_model_list"]

_COST_KEYS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)

# litellm_params that become Deployment fields rather than completion defaults.
_TYPED_PARAMS = frozenset(
    {
        "model",
        "custom_llm_provider",
        "api_key",
        "api_base",
        "api_version",
        "rpm",
        "tpm",
        "weight",
        "order",
        "timeout",
        "stream_timeout",
        "num_retries",
        "max_retries",
        "extra_headers",
        *_COST_KEYS,
    }
)

_Check = Callable[[Any, Where], object]

# Completion defaults whose type is checked at start-up rather than failing on the first request.
_DEFAULT_CHECKS: Mapping[str, _Check] = MappingProxyType(
    {
        "temperature": lambda value, where: read_number(value, where),
        "top_p": lambda value, where: read_number(value, where),
        "presence_penalty": lambda value, where: read_number(value, where, minimum=None),
        "frequency_penalty": lambda value, where: read_number(value, where, minimum=None),
        "max_tokens": lambda value, where: read_int(value, where, minimum=1),
        "max_completion_tokens": lambda value, where: read_int(value, where, minimum=1),
        "n": lambda value, where: read_int(value, where, minimum=1),
        "seed": lambda value, where: read_int(value, where, minimum=None),
        "drop_params": read_bool,
        "responses_api": read_bool,
        "stream": read_bool,
    }
)


def read_model_list(
    entries: ListReader, environ: Mapping[str, str], problems: Problems | None = None
) -> tuple[Deployment, ...]:
    """Every deployment of ``model_list``, in order; deployment ids must be unique.

    With ``problems``, a deployment with a problem is noted there and left out, and the others are
    still read; without, the first problem is raised.
    """
    if len(entries) == 0:
        raise entries.where.error("is empty (a gateway needs at least one model)")
    noted = problems if problems is not None else Problems()
    deployments: list[Deployment] = []
    seen: dict[str, int] = {}
    for index, (where, raw) in enumerate(entries):
        deployment = noted.attempt(partial(_read_entry, index, where, raw, environ, noted), None)
        if deployment is None:
            continue
        if deployment.deployment_id in seen:
            info = MapReader.of(raw, where).mapping("model_info")
            blame = info.at("id") if info is not None else where
            first = seen[deployment.deployment_id]
            used = f"deployment id '{deployment.deployment_id}' is already used by model_list[{first}]"
            noted.add(blame.error(used))
            continue
        seen[deployment.deployment_id] = index
        deployments.append(deployment)
    if problems is None:
        noted.raise_if_any()
    return tuple(deployments)


def _read_entry(
    index: int, where: Where, raw: Any, environ: Mapping[str, str], problems: Problems
) -> Deployment:
    entry = MapReader.of(raw, where)
    problems.run(partial(entry.reject_unknown, MODEL_ENTRY_KEYS))
    return _read_deployment(index, entry, environ)


def _read_deployment(index: int, entry: MapReader, environ: Mapping[str, str]) -> Deployment:
    group = entry.require_string("model_name")
    params = entry.require_mapping("litellm_params")
    model = params.require_string("model")
    custom = params.string("custom_llm_provider")
    alias, upstream = split_model(model, custom, params.at("custom_llm_provider" if custom else "model"))
    api_base = _api_base(params, alias)
    info = _read_model_info(MapReader.of(entry.get("model_info"), entry.at("model_info")), params)
    num_retries = params.integer("num_retries")
    deployment_id = info.id or _stable_id(group, alias.name, upstream, api_base, index)
    return Deployment(
        model_name=group,
        provider=alias.protocol,
        provider_alias=alias.name,
        model=upstream,
        api_key=_api_key(params, alias, environ),
        api_base=api_base,
        deployment_id=deployment_id,
        api_version=params.string("api_version") or _azure_version(alias, environ),
        rpm=params.integer("rpm"),
        tpm=params.integer("tpm"),
        weight=_or(params.number("weight"), 1.0),
        order=params.integer("order"),
        timeout=params.number("timeout", exclusive=True),
        stream_timeout=params.number("stream_timeout", exclusive=True),
        num_retries=num_retries if num_retries is not None else params.integer("max_retries"),
        extra_headers=MappingProxyType(params.string_map("extra_headers") or {}),
        defaults=_completion_defaults(params),
        model_info=info,
    )


def _api_key(params: MapReader, alias: ProviderAlias, environ: Mapping[str, str]) -> Secret | None:
    configured = params.string("api_key")
    if configured is not None:
        return Secret(configured)
    # LiteLLM falls back to the provider's usual variable (ANTHROPIC_API_KEY, ...) when none is set.
    for variable in alias.key_variables:
        if environ.get(variable):
            return Secret(environ[variable])
    return None


def _api_base(params: MapReader, alias: ProviderAlias) -> str | None:
    configured = params.string("api_base")
    if configured is not None:
        return normalize_api_base(configured, alias, params.at("api_base"))
    if alias.api_base is None and alias.protocol != "mock":
        raise params.missing(
            "api_base",
            f"is required for provider '{alias.name}' (the URL of the server, e.g. https://host/v1)",
        )
    return alias.api_base


def _azure_version(alias: ProviderAlias, environ: Mapping[str, str]) -> str | None:
    return (environ.get("AZURE_API_VERSION") or None) if alias.name == "azure" else None


def _read_model_info(info: MapReader, params: MapReader) -> ModelInfo:
    """``model_info``; costs may also sit in ``litellm_params`` (LiteLLM's custom pricing form)."""
    costs = [params.number(key) for key in _COST_KEYS]
    raw_id = info.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int)):
        raise info.at("id").error("must be a string")
    max_output = info.integer("max_output_tokens", minimum=1)
    known = {"id", "max_input_tokens", "max_output_tokens", "max_tokens", "base_model", "mode", *_COST_KEYS}
    input_cost, output_cost, cache_read_cost, cache_write_cost = (
        _or_none(info.number(key), fallback) for key, fallback in zip(_COST_KEYS, costs, strict=True)
    )
    return ModelInfo(
        id=str(raw_id) if raw_id is not None else None,
        input_cost_per_token=input_cost,
        output_cost_per_token=output_cost,
        cache_read_input_token_cost=cache_read_cost,
        cache_creation_input_token_cost=cache_write_cost,
        max_input_tokens=info.integer("max_input_tokens", minimum=1),
        max_output_tokens=max_output if max_output is not None else info.integer("max_tokens", minimum=1),
        base_model=info.string("base_model"),
        mode=info.string("mode"),
        extra=MappingProxyType({key: freeze(value) for key, value in info.data.items() if key not in known}),
    )


def _completion_defaults(params: MapReader) -> Mapping[str, Any]:
    defaults: dict[str, Any] = {}
    for key, value in params.data.items():
        if key in _TYPED_PARAMS or value is None:
            continue
        check = _DEFAULT_CHECKS.get(key)
        defaults[key] = check(value, params.at(key)) if check is not None else freeze(value)
    return MappingProxyType(defaults)


def _stable_id(group: str, provider: str, model: str, api_base: str | None, index: int) -> str:
    material = "\x00".join((group, provider, model, api_base or "", str(index)))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _or_none(first: float | None, second: float | None) -> float | None:
    return first if first is not None else second
