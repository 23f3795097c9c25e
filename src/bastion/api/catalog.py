"""Model listings in each surface's shape: the model groups the caller may use."""

from __future__ import annotations

from typing import Any

from bastion.domain.principal import Principal
from bastion.gateway.router import Router

__all__ = ["anthropic_models", "gemini_models", "openai_model", "openai_models"]

#: A fixed timestamp: groups come from config, they have no creation time of their own.
_CREATED = 1_700_000_000


def _visible(router: Router, principal: Principal) -> list[str]:
    return [name for name in router.names if principal.may_use(name)]


def openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "bastion"}


def openai_models(router: Router, principal: Principal) -> dict[str, Any]:
    return {"object": "list", "data": [openai_model(name) for name in _visible(router, principal)]}


def anthropic_models(router: Router, principal: Principal) -> dict[str, Any]:
    names = _visible(router, principal)
    data = [
        {"type": "model", "id": name, "display_name": name, "created_at": "2023-11-14T22:13:20Z"}
        for name in names
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


def gemini_models(router: Router, principal: Principal) -> dict[str, Any]:
    models = []
    for name in _visible(router, principal):
        info = router.group(name)[0].model_info
        entry: dict[str, Any] = {
            "name": f"models/{name}",
            "displayName": name,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        }
        if info.max_input_tokens:
            entry["inputTokenLimit"] = info.max_input_tokens
        if info.max_output_tokens:
            entry["outputTokenLimit"] = info.max_output_tokens
        models.append(entry)
    return {"models": models}
