"""Client-side helpers for backends that hand out keys: the seed's ``generateSessionAPIKey`` in Python.

These call a running Bastion over HTTP with the master key, exactly as the Proliferate seed calls
LiteLLM, so the same code works against either::

    from bastion.admin import generate_session_key
    key = generate_session_key(session_id, org_id, proxy_url="https://llm-proxy.example.com",
                               master_key=os.environ["LLM_PROXY_MASTER_KEY"], duration="24h", max_budget=50)

It needs only the standard library and orjson, so a backend can call it without running a gateway.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

__all__ = ["AdminError", "claude_code_env", "generate_session_key", "opencode_config"]


class AdminError(RuntimeError):
    """The gateway refused an admin call; ``status`` and the gateway's message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _call(proxy_url: str, master_key: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(
        proxy_url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"authorization": f"Bearer {master_key}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            message = orjson.loads(raw)["error"]["message"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace")[:300]
        raise AdminError(err.code, str(message)) from None


def generate_session_key(
    session_id: str,
    org_id: str,
    *,
    proxy_url: str,
    master_key: str,
    duration: str | None = "24h",
    max_budget: float | None = None,
    models: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Ensure the org's team exists, then create a key for the session (team = org, user = session)."""
    try:
        _call(proxy_url, master_key, "GET", "/team/info?" + urllib.parse.urlencode({"team_id": org_id}))
    except AdminError as err:
        if err.status != 404:
            raise
        _call(proxy_url, master_key, "POST", "/team/new", {"team_id": org_id, "team_alias": org_id})
    body: dict[str, Any] = {"team_id": org_id, "user_id": session_id}
    if duration is not None:
        body["duration"] = duration
    if max_budget is not None:
        body["max_budget"] = max_budget
    if models is not None:
        body["models"] = models
    if metadata is not None:
        body["metadata"] = metadata
    answer = _call(proxy_url, master_key, "POST", "/key/generate", body)
    return str(answer["key"])


def opencode_config(proxy_url: str, *, model: str = "anthropic/claude-sonnet-4-5") -> dict[str, Any]:
    """The OpenCode config of the Proliferate seed, pointing its Anthropic provider at Bastion.

    OpenCode's ``baseURL`` includes ``/v1``; the key travels in ``ANTHROPIC_API_KEY``.
    """
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": model,
        "provider": {"anthropic": {"options": {"baseURL": proxy_url.rstrip("/") + "/v1"}}},
    }


def claude_code_env(proxy_url: str, key: str) -> dict[str, str]:
    """Environment for Claude Code: the base URL *without* ``/v1``, the key as a bearer token."""
    return {"ANTHROPIC_BASE_URL": proxy_url.rstrip("/"), "ANTHROPIC_AUTH_TOKEN": key}
