"""Constants and config builders shared by the integration and end-to-end tests."""

from __future__ import annotations

from typing import Any

#: Keys used across the tests; they must never show up in a response or a log line.
MASTER_KEY = "sk-test-master-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-abcdef123456"
STATIC_KEY = "sk-static-user-9876543210"


def deployment(group: str, model: str, api_base: str | None, **params: Any) -> dict[str, Any]:
    litellm_params: dict[str, Any] = {"model": model, **params}
    if api_base is not None:
        litellm_params["api_base"] = api_base
        litellm_params.setdefault("api_key", UPSTREAM_KEY)
    return {"model_name": group, "litellm_params": litellm_params}


def standard_models(url: str) -> list[dict[str, Any]]:
    """One model group per upstream protocol, all served by the mock upstream."""
    return [
        deployment("gpt", "openai/gpt-4.1-mini", url + "/v1"),
        deployment("claude", "anthropic/claude-sonnet-4-5", url),
        deployment("gemini", "gemini/gemini-2.5-flash", url),
        deployment("mock", "mock/echo", None),
    ]
