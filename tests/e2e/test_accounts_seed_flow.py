"""The flow of llm-service-architecture.md, as written: login, set key, list models, chat, usage."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2


@pytest.mark.parametrize("backend", ["embedded", "scaled"])
def test_seed_flow_login_key_models_chat_usage(
    start_accounts: Callable[..., RunningGateway], upstream: MockUpstream, backend: str
) -> None:
    """Each numbered step of the seed's "Data Flow Example", against a real gateway and mock upstream
    (the seed's password "secret" is 6 characters, so this gateway allows 6)."""
    gw = start_accounts(backend, min_password_length=6)
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    made = admin.call("POST", "/v2/users/", json={"email": "user@example.com", "password": "secret"})
    assert made.status == 201, made.body

    # 1. User Login: POST /v2/login/access-token, username=user@example.com&password=secret
    login = V2(gw.url).call(
        "POST", "/v2/login/access-token", form={"username": "user@example.com", "password": "secret"}
    )
    assert login.status == 200
    assert login.body["token_type"] == "bearer" and login.body["expires_in"] > 0
    user = V2(gw.url, login.body["access_token"])

    # Before any key: Claude is not available (no system Anthropic key); GPT is (config key).
    before = user.call("GET", "/v2/llm-models/?is_active=true").body["data"]
    assert {m["name"] for m in before} == {"gpt-4.1-mini", "mock"}

    # 2. User Configures API Key
    saved = user.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": "sk-ant-real-key"})
    assert saved.status == 200
    assert saved.body["providers"]["anthropic"]["masked_key"] == "sk-ant-...-key"
    assert "sk-ant-real-key" not in saved.raw.decode()

    # 3. User Gets Available Models: Claude models now (because the user has an Anthropic key)
    models = user.call("GET", "/v2/llm-models/?is_active=true").body["data"]
    claude = next(m for m in models if m["provider"] == "anthropic")
    assert claude["name"] == "claude-sonnet-4-5"
    assert claude["input_price_per_million"] == 3.0 and claude["output_price_per_million"] == 15.0
    assert claude["context_window"] and claude["display_name"]

    # 4. User Sends Chat Message, by model_id
    reply = user.call(
        "POST",
        "/v2/llm/chat/completions",
        json={"model_id": claude["id"], "messages": [{"role": "user", "content": "Hello"}]},
    )
    assert reply.status == 200, reply.body
    assert reply.body["message"]["role"] == "assistant" and reply.body["message"]["content"]
    # a/b. The backend called Anthropic with the user's key.
    assert upstream.requests[-1].headers["x-api-key"] == "sk-ant-real-key"
    usage = reply.body["usage"]
    assert usage["user_key"] is True and usage["input_tokens"] > 0 and usage["cost_usd"] > 0

    # 5. User Views Usage
    gw.call(gw.app.spend_writer.flush())  # type: ignore[union-attr]
    mine = user.call("GET", "/v2/billing/usage/my-usage?days=30")
    assert mine.status == 200
    assert mine.body["totals"]["requests"] == 1
    assert mine.body["totals"]["cost_usd"] == pytest.approx(usage["cost_usd"])
    assert mine.body["totals"]["user_key_cost_usd"] == pytest.approx(usage["cost_usd"])
    (day,) = mine.body["daily"]
    assert day["model"] == "claude-sonnet-4-5"
    assert day["input_tokens"] == usage["input_tokens"] and day["output_tokens"] == usage["output_tokens"]
