"""What the model listings show: the groups a caller may use (each surface's listing writes them in
its own shape, ``protocols/<name>/models.py``), LiteLLM's ``/model_group/info`` and ``/model/info``."""

from __future__ import annotations

from typing import Any

from bastion.accounting.pricing import PriceBook
from bastion.domain.principal import Principal
from bastion.gateway.router import Router
from bastion.protocols.surface import ListedModel
from bastion.settings import Deployment, Settings

__all__ = ["deployment_info", "entry", "listed", "model_group_info"]


def _visible(router: Router, principal: Principal) -> list[str]:
    return [name for name in router.names if principal.may_use(name)]


def listed(router: Router, principal: Principal) -> list[ListedModel]:
    """The model groups ``principal`` may use, as a surface's listing writes them."""
    return [entry(router, name) for name in _visible(router, principal)]


def entry(router: Router, name: str, group: str | None = None) -> ListedModel:
    """Model group ``group`` (``name`` unless given: an alias resolves to it) listed as ``name``;
    its limits are its first deployment's."""
    info = router.group(group or name)[0].model_info
    return ListedModel(name, info.max_input_tokens, info.max_output_tokens)


#: Chat parameters every group takes (Bastion translates or drops them for each provider).
_OPENAI_PARAMS = (
    "frequency_penalty",
    "max_completion_tokens",
    "max_tokens",
    "n",
    "parallel_tool_calls",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
    "user",
)
#: LiteLLM's capability flags; a deployment's ``model_info`` may set any of them. Tool calls work on
#: every group (translated where the provider's protocol differs), so those two default to true.
_FLAGS = {
    "supports_function_calling": True,
    "supports_parallel_function_calling": True,
    "supports_vision": False,
    "supports_web_search": False,
    "supports_url_context": False,
    "supports_reasoning": False,
}


def model_group_info(router: Router, principal: Principal, prices: PriceBook) -> dict[str, Any]:
    """``GET /model_group/info`` (LiteLLM's ``ModelGroupInfo`` rows): the groups the caller may use,
    with limits, the price Bastion charges (its one price function) and capability flags."""
    return {"data": [_group_info(name, router.group(name), prices) for name in _visible(router, principal)]}


def _group_info(name: str, deployments: tuple[Deployment, ...], prices: PriceBook) -> dict[str, Any]:
    providers = list(dict.fromkeys(dep.provider_alias for dep in deployments))
    info = [dep.model_info for dep in deployments]
    price = next((p for dep in deployments if (p := prices.price_of(dep)) is not None), None)
    max_input = next((i.max_input_tokens for i in info if i.max_input_tokens), None)
    if max_input is None:
        max_input = next(
            (
                f.context_window
                for d in deployments
                if (f := prices.facts(d.provider_alias, d.model)).context_window
            ),
            None,
        )
    row: dict[str, Any] = {
        "model_group": name,
        "providers": providers,
        "max_input_tokens": max_input,
        "max_output_tokens": next((i.max_output_tokens for i in info if i.max_output_tokens), None),
        "input_cost_per_token": None if price is None else price.input,
        "output_cost_per_token": None if price is None else price.output,
        "mode": next((i.mode for i in info if i.mode), "chat"),
        "tpm": _total([dep.tpm for dep in deployments]),
        "rpm": _total([dep.rpm for dep in deployments]),
    }
    for flag, default in _FLAGS.items():
        values = [i.extra[flag] for i in info if isinstance(i.extra.get(flag), bool)]
        row[flag] = all(values) if values else default
    row["supported_openai_params"] = list(_OPENAI_PARAMS)
    return row


def _total(values: list[int | None]) -> int | None:
    """A group's limit: the sum over its deployments, unless one of them has none."""
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def deployment_info(settings: Settings, prices: PriceBook) -> list[dict[str, Any]]:
    """``GET /model/info``: each deployment as LiteLLM shows it, without credentials; the prices
    are what Bastion charges (``model_info``, else the price table), ``None`` when unpriced."""
    out = []
    for dep in settings.model_list:
        info = dep.model_info
        price = prices.price_of(dep)
        out.append(
            {
                "model_name": dep.model_name,
                "litellm_params": {
                    "model": f"{dep.provider_alias}/{dep.model}",
                    "api_base": dep.api_base,
                    "rpm": dep.rpm,
                    "tpm": dep.tpm,
                    "weight": dep.weight,
                    "timeout": dep.timeout,
                },
                "model_info": {
                    "id": dep.deployment_id,
                    "base_model": info.base_model,
                    "max_input_tokens": info.max_input_tokens,
                    "max_output_tokens": info.max_output_tokens,
                    "input_cost_per_token": None if price is None else price.input,
                    "output_cost_per_token": None if price is None else price.output,
                },
            }
        )
    return out
