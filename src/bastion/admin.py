"""Client-side helpers for backends that hand out keys: the seed's ``generateSessionAPIKey`` in Python.

These call a running Bastion over HTTP with the master key, exactly as the Proliferate seed calls
LiteLLM, so the same code works against either::

    from bastion.admin import generate_session_key
    key = generate_session_key(session_id, org_id, proxy_url="https://llm-proxy.example.com",
                               master_key=os.environ["LLM_PROXY_MASTER_KEY"], duration="24h", max_budget=50)

It needs only the standard library and orjson, so a backend can call it without running a gateway.
It stays synchronous on ``urllib`` rather than wrapping the gateway's own outbound client
(:mod:`bastion.outbound.http`, asynchronous): a backend calls it from plain request handlers, from
threads, or from inside a running event loop, where an ``asyncio.run`` wrapper would fail, and it
should not load the gateway's runtime. ``urllib`` verifies HTTPS against the system's CAs (or
``SSL_CERT_FILE``) with SNI and honours ``HTTPS_PROXY``. Redirects are never followed: the master
key travels in a header ``urllib`` would send to the redirect's host too.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

__all__ = ["AdminError", "claude_code_env", "generate_session_key", "opencode_config"]

_EXCERPT = 300


class AdminError(RuntimeError):
    """The gateway refused an admin call; ``status`` and the gateway's message say why.

    ``status`` is 0 when no answer came (the gateway unreachable, a refused TLS certificate, a
    timeout) and the HTTP status of a redirect, which is never followed.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer becomes an HTTPError, reported below


_OPENER = urllib.request.build_opener(_NoRedirect())


def _call(
    proxy_url: str,
    master_key: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    timeout: float = 30.0,
) -> Any:
    data = None if body is None else orjson.dumps(body)
    url = proxy_url.rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"authorization": f"Bearer {master_key}", "content-type": "application/json"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as err:
        raise _refusal(err) from None
    except (urllib.error.URLError, OSError) as err:  # URLError wraps refused connections and TLS
        reason = getattr(err, "reason", None) or err
        raise AdminError(0, f"could not reach the gateway at {proxy_url}: {reason}"[:_EXCERPT]) from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        excerpt = raw[:_EXCERPT].decode("utf-8", "replace")
        raise AdminError(200, f"the answer of {method} {path} is not JSON: {excerpt}") from None


def _refusal(err: urllib.error.HTTPError) -> AdminError:
    if 300 <= err.code < 400:
        where = err.headers.get("location", "elsewhere")
        return AdminError(
            err.code, f"the gateway redirects to {where}; set proxy_url to the gateway's own address"
        )
    raw = err.read()
    try:
        message = orjson.loads(raw)["error"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = raw.decode("utf-8", "replace")[:_EXCERPT]
    return AdminError(err.code, str(message))


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
    timeout: float = 30.0,
) -> str:
    """Ensure the org's team exists, then create a key for the session (team = org, user = session).

    Each call to the gateway waits at most ``timeout`` seconds; every failure is an
    :class:`AdminError`.
    """
    team = "/team/info?" + urllib.parse.urlencode({"team_id": org_id})
    try:
        _call(proxy_url, master_key, "GET", team, timeout=timeout)
    except AdminError as err:
        if err.status != 404:
            raise
        new_team = {"team_id": org_id, "team_alias": org_id}
        _call(proxy_url, master_key, "POST", "/team/new", new_team, timeout=timeout)
    body: dict[str, Any] = {"team_id": org_id, "user_id": session_id}
    if duration is not None:
        body["duration"] = duration
    if max_budget is not None:
        body["max_budget"] = max_budget
    if models is not None:
        body["models"] = models
    if metadata is not None:
        body["metadata"] = metadata
    answer = _call(proxy_url, master_key, "POST", "/key/generate", body, timeout=timeout)
    return str(answer["key"])


def opencode_config(proxy_url: str, *, model: str = "mock-claude") -> dict[str, Any]:
    """OpenCode's config pointing its Anthropic provider at Bastion, for the model group ``model``.

    OpenCode's ``baseURL`` includes ``/v1``; the key travels in ``ANTHROPIC_API_KEY``. OpenCode
    refuses a model its provider block does not declare (``ProviderModelNotFoundError``), and
    titles each session with ``small_model``, so both name the group. A group called
    ``anthropic/NAME`` is declared as ``NAME``: OpenCode sends the bare id, which Bastion resolves.
    """
    bare = model.removeprefix("anthropic/")
    return {
        "$schema": "https://opencode.ai/config.json",
        "model": f"anthropic/{bare}",
        "small_model": f"anthropic/{bare}",
        "provider": {
            "anthropic": {"options": {"baseURL": proxy_url.rstrip("/") + "/v1"}, "models": {bare: {}}},
        },
    }


def claude_code_env(proxy_url: str, key: str, model: str | None = None) -> dict[str, str]:
    """Environment for Claude Code: the base URL *without* ``/v1``, the key as a bearer token and,
    given a model group, ``ANTHROPIC_MODEL`` (Claude Code's own default is a Claude model name)."""
    env = {"ANTHROPIC_BASE_URL": proxy_url.rstrip("/"), "ANTHROPIC_AUTH_TOKEN": key}
    if model is not None:
        env["ANTHROPIC_MODEL"] = model
    return env
