"""Which provider key a call uses, proven by the key the mock upstream received: the user's own,
else the stored system key, else the config's, else a clear error naming the provider."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY
from support.accounts import (
    SUPERUSER,
    SUPERUSER_PASSWORD,
    SYSTEM_OPENAI_KEY,
    USER_ANTHROPIC_KEY,
    V2,
)

PASSWORD = "user-password-123"
SYSTEM_ANTHROPIC_KEY = "sk-ant-system-stored-key-4321"
STORED_OPENAI_KEY = "sk-proj-system-stored-key-8765"


def _hello(model: str) -> dict[str, object]:
    return {"model_id": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3}


def _key_seen(upstream: MockUpstream) -> str:
    headers = upstream.requests[-1].headers
    if "x-api-key" in headers:
        return headers["x-api-key"]
    if "x-goog-api-key" in headers:
        return headers["x-goog-api-key"]
    return headers.get("authorization", "").removeprefix("Bearer ")


def _setup(start: Callable[..., RunningGateway], **accounts: object) -> tuple[RunningGateway, V2, V2]:
    gw = start(**accounts)
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    assert (
        admin.call("POST", "/v2/users", json={"email": "u@example.com", "password": PASSWORD}).status == 201
    )
    return gw, admin, V2(gw.url).as_user("u@example.com", PASSWORD)


def test_user_key_then_stored_system_key_then_config_key(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gw, admin, user = _setup(start_accounts)
    # No key anywhere for Anthropic: a clear error naming the provider, and nothing sent upstream.
    missing = user.call("POST", "/v2/llm/chat/completions", json=_hello("claude-sonnet-4-5"))
    assert missing.status == 400 and missing.body["code"] == "no_provider_key"
    assert "anthropic" in missing.body["detail"] and not upstream.requests
    assert gw.next_record().status == 400  # the refused call is recorded, as every call is

    # The system key stored by an admin serves everyone without a key of their own.
    assert (
        admin.call("PUT", "/v2/admin/llm-keys/anthropic", json={"api_key": SYSTEM_ANTHROPIC_KEY}).status
        == 200
    )
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("claude-sonnet-4-5")).status == 200
    assert _key_seen(upstream) == SYSTEM_ANTHROPIC_KEY
    assert gw.next_record().user_key is False

    # The user's own key wins over the system key; the spend is flagged as paid by the user.
    user.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": USER_ANTHROPIC_KEY})
    reply = user.call("POST", "/v2/llm/chat/completions", json=_hello("claude-sonnet-4-5"))
    assert reply.status == 200 and reply.body["usage"]["user_key"] is True
    assert _key_seen(upstream) == USER_ANTHROPIC_KEY
    assert gw.next_record().user_key is True

    # OpenAI: the config's key, until a stored system key takes precedence over it.
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("gpt-4.1-mini")).status == 200
    assert _key_seen(upstream) == SYSTEM_OPENAI_KEY
    assert admin.call("PUT", "/v2/admin/llm-keys/openai", json={"api_key": STORED_OPENAI_KEY}).status == 200
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("gpt-4.1-mini")).status == 200
    assert _key_seen(upstream) == STORED_OPENAI_KEY

    # Removing the user's key falls back to the system key again.
    assert user.call("DELETE", "/v2/users/me/api-key?provider=anthropic").body["removed"] == ["anthropic"]
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("claude-sonnet-4-5")).status == 200
    assert _key_seen(upstream) == SYSTEM_ANTHROPIC_KEY

    # Spend logs (the refused call too) carry the flag: calls paid with the user's key are not billed.
    gw.call(gw.app.spend_writer.flush())  # type: ignore[union-attr]
    usage = user.call("GET", "/v2/billing/usage/my-usage").body["totals"]
    assert usage["requests"] == 6 and 0 < usage["user_key_cost_usd"] < usage["cost_usd"]


def test_stored_system_key_serves_every_surface(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """A system key set through /v2/admin/llm-keys is used by /v1/messages calls with a Bastion key."""
    gw, admin, _ = _setup(start_accounts)
    admin.call("PUT", "/v2/admin/llm-keys/anthropic", json={"api_key": SYSTEM_ANTHROPIC_KEY})
    request = urllib.request.Request(
        gw.url + "/v1/messages",
        data=orjson.dumps(
            {"model": "claude-sonnet-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
        ),
        headers={
            "x-api-key": MASTER_KEY,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
        },
    )
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 200
    assert _key_seen(upstream) == SYSTEM_ANTHROPIC_KEY
    # Rotated: the next call uses the new key at once; removed: back to the config (none here).
    rotated = admin.call(
        "POST", "/v2/admin/llm-keys/anthropic/rotate", json={"api_key": SYSTEM_ANTHROPIC_KEY + "0"}
    )
    assert rotated.status == 200 and rotated.body["previous_masked_key"] == "sk-ant-...4321"
    assert rotated.body["providers"]["anthropic"]["masked_key"] == "sk-ant-...3210"
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 200
    assert _key_seen(upstream) == SYSTEM_ANTHROPIC_KEY + "0"
    assert admin.call("DELETE", "/v2/admin/llm-keys/anthropic").body["removed"] is True
    assert admin.call("GET", "/v2/admin/llm-keys").body["providers"]["anthropic"]["has_key"] is False
    assert admin.call("GET", "/v2/admin/llm-keys").body["providers"]["openai"] == {
        "has_key": True,
        "masked_key": "sk-proj-...5678",
        "source": "config",
        "updated_at": None,
    }


def test_user_keys_disabled_uses_system_keys_only(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """The centralized model (cloud-code-centralized-llm.md): user keys are never used."""
    _, _, user = _setup(start_accounts, user_keys="disabled")
    user.call("PATCH", "/v2/users/me/api-key", json={"openai_api_key": "sk-proj-user-own-key-1111"})
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("gpt-4.1-mini")).status == 200
    assert _key_seen(upstream) == SYSTEM_OPENAI_KEY
    assert user.call("GET", "/v2/users/me/api-key-status").body["user_keys"] == "disabled"


def test_user_keys_required_refuses_system_keys_for_official_providers(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    _, _, user = _setup(start_accounts, user_keys="required")
    refused = user.call("POST", "/v2/llm/chat/completions", json=_hello("gpt-4.1-mini"))
    assert refused.status == 400 and "requires your own openai" in refused.body["detail"]
    active = {m["name"] for m in user.call("GET", "/v2/llm-models/?is_active=true").body["data"]}
    assert active == {"mock"}
    user.call("PATCH", "/v2/users/me/api-key", json={"google_api_key": "AIzaUserOwnGoogleKey0000"})
    assert user.call("POST", "/v2/llm/chat/completions", json=_hello("gemini-2.5-flash")).status == 200
    assert _key_seen(upstream) == "AIzaUserOwnGoogleKey0000"


@pytest.mark.parametrize("field", ["anthropic_api_key", "openai_api_key", "google_api_key"])
def test_keys_are_validated(start_accounts: Callable[..., RunningGateway], field: str) -> None:
    _, _, user = _setup(start_accounts)
    assert user.call("PATCH", "/v2/users/me/api-key", json={field: "has a space"}).status == 400
    assert user.call("PATCH", "/v2/users/me/api-key", json={"azure_api_key": "x" * 20}).status == 400
