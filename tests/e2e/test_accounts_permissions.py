"""Every /v2 route as anonymous, a user, another user and a superuser: who may do what, and nobody
reads another user's keys, conversations or usage."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from bastion.api.account import ROUTES
from bastion.testing.gateway import RunningGateway
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2

PASSWORD = "user-password-123"
CHAT = {"model_id": "mock", "messages": [{"role": "user", "content": "hello"}]}

#: (method, template) -> (body, query, status for a user, status for a superuser).
CASES: dict[tuple[str, str], tuple[Any, str, int, int]] = {
    ("POST", "/v2/login/access-token"): (None, "", 400, 400),
    ("GET", "/v2/users/me"): (None, "", 200, 200),
    ("PATCH", "/v2/users/me/password"): (
        {"current_password": "wrong-password", "new_password": "new-password-123"},
        "",
        400,
        400,
    ),
    ("GET", "/v2/users/me/api-key-status"): (None, "", 200, 200),
    ("PATCH", "/v2/users/me/api-key"): ({"openai_api_key": "sk-proj-walker-000000"}, "", 200, 200),
    ("DELETE", "/v2/users/me/api-key"): (None, "?provider=openai", 200, 200),
    ("GET", "/v2/users"): (None, "", 403, 200),
    ("POST", "/v2/users"): ({"email": "", "password": PASSWORD}, "", 403, 201),
    ("GET", "/v2/users/{user_id}"): (None, "", 403, 200),
    ("PATCH", "/v2/users/{user_id}"): ({"full_name": "Walked"}, "", 403, 200),
    ("DELETE", "/v2/users/{user_id}"): (None, "", 403, 200),
    ("GET", "/v2/llm-models"): (None, "?is_active=true", 200, 200),
    ("POST", "/v2/llm/chat/completions"): (CHAT, "", 200, 200),
    ("POST", "/v2/llm/chat/completions/stream"): (CHAT, "", 200, 200),
    ("GET", "/v2/llm/conversations"): (None, "", 200, 200),
    # The conversation is the first user's: only they read it; to everyone else it does not exist.
    ("GET", "/v2/llm/conversations/{conversation_id}"): (None, "", 200, 404),
    ("GET", "/v2/billing/usage/my-usage"): (None, "?days=30", 200, 200),
    ("GET", "/v2/billing/usage/users"): (None, "?days=30", 403, 200),
    ("GET", "/v2/admin/llm-keys"): (None, "", 403, 200),
    ("PUT", "/v2/admin/llm-keys/{provider}"): ({"api_key": "sk-ant-system-walker-1234"}, "", 403, 200),
    ("POST", "/v2/admin/llm-keys/{provider}/rotate"): (
        {"api_key": "sk-ant-system-walker-5678"},
        "",
        403,
        200,
    ),
    ("DELETE", "/v2/admin/llm-keys/{provider}"): (None, "", 403, 200),
}


def _path(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


def _body(body: Any) -> Any:
    if isinstance(body, dict) and body.get("email") == "":
        return {**body, "email": f"new-{secrets.token_hex(4)}@example.com"}
    return body


def test_the_walker_covers_every_route() -> None:
    assert set(CASES) == {(method, path) for method, path, _ in ROUTES}


def test_every_route_as_anonymous_user_other_user_and_superuser(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    gw = start_accounts()
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    users = {}
    for name in ("alice", "bob", "carol"):
        made = admin.call("POST", "/v2/users", json={"email": f"{name}@example.com", "password": PASSWORD})
        assert made.status == 201
        users[name] = made.body["id"]
    alice = V2(gw.url).as_user("alice@example.com", PASSWORD)
    bob = V2(gw.url).as_user("bob@example.com", PASSWORD)
    chat = alice.call("POST", "/v2/llm/chat/completions", json=CHAT)
    assert chat.status == 200
    ids = {
        "user_id": users["carol"],
        "conversation_id": chat.body["conversation_id"],
        "provider": "anthropic",
    }
    anonymous = V2(gw.url)

    for (method, template), (body, query, as_user, as_superuser) in CASES.items():
        path = _path(template, ids) + query
        label = f"{method} {template}"
        seen = anonymous.call(method, path, json=_body(body))
        expected = 400 if template == "/v2/login/access-token" else 401
        assert seen.status == expected, f"anonymous {label}: {seen.status} {seen.body}"
        if expected == 401:
            assert seen.headers.get("www-authenticate") == "Bearer"
        seen = alice.call(method, path, json=_body(body))
        assert seen.status == as_user, f"user {label}: {seen.status} {seen.body}"
        other = 404 if "{conversation_id}" in template else as_user
        seen = bob.call(method, path, json=_body(body))
        assert seen.status == other, f"another user {label}: {seen.status} {seen.body}"
        seen = admin.call(method, path, json=_body(body))
        assert seen.status == as_superuser, f"superuser {label}: {seen.status} {seen.body}"


def test_nobody_reads_another_users_keys_conversations_or_usage(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    gw = start_accounts()
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    for name in ("alice", "bob"):
        assert (
            admin.call(
                "POST", "/v2/users", json={"email": f"{name}@example.com", "password": PASSWORD}
            ).status
            == 201
        )
    alice = V2(gw.url).as_user("alice@example.com", PASSWORD)
    bob = V2(gw.url).as_user("bob@example.com", PASSWORD)
    assert (
        alice.call(
            "PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": "sk-ant-alice-secret-9999"}
        ).status
        == 200
    )
    chat = alice.call("POST", "/v2/llm/chat/completions", json=CHAT)
    gw.call(gw.app.spend_writer.flush())  # type: ignore[union-attr]

    keys = bob.call("GET", "/v2/users/me/api-key-status").body["providers"]
    assert all(not found["has_key"] for found in keys.values())
    assert bob.call("GET", "/v2/llm/conversations").body["count"] == 0
    assert bob.call("GET", f"/v2/llm/conversations/{chat.body['conversation_id']}").status == 404
    assert bob.call("GET", "/v2/billing/usage/my-usage").body["totals"]["requests"] == 0
    alice_id = alice.call("GET", "/v2/users/me").body["id"]
    # A user cannot pick another user's usage through the superuser view's filters.
    assert bob.call("GET", f"/v2/billing/usage/users?user_id={alice_id}").status == 403
    # The superuser sees Alice's usage (filtered by user and model), her key only masked.
    report = admin.call("GET", f"/v2/billing/usage/users?user_id={alice_id}&model=mock").body
    assert report["totals"]["requests"] == 1 and report["daily"][0]["user_id"] == alice_id
    assert (
        admin.call("GET", f"/v2/billing/usage/users?user_id={alice_id}&model=gpt-4.1-mini").body["totals"][
            "requests"
        ]
        == 0
    )
    mine = alice.call("GET", "/v2/billing/usage/my-usage").body
    assert mine["totals"]["requests"] == 1
    everyone = admin.call("GET", "/v2/billing/usage/users").body
    assert [u["requests"] for u in everyone["users"]] == [1]
    assert b"sk-ant-alice-secret-9999" not in b"".join(
        answer.raw
        for answer in (
            alice.call("GET", "/v2/users/me/api-key-status"),
            admin.call("GET", "/v2/users"),
            admin.call("GET", "/v2/admin/llm-keys"),
        )
    )


@pytest.mark.parametrize("token", ["", "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_bad_tokens_get_401_with_a_reason(start_accounts: Callable[..., RunningGateway], token: str) -> None:
    gw = start_accounts()
    seen = V2(gw.url).call("GET", "/v2/users/me", token=token)
    assert seen.status == 401 and seen.body["detail"]


def test_unknown_account_paths_answer_in_the_account_format(
    start_accounts: Callable[..., RunningGateway],
) -> None:
    gw = start_accounts()
    seen = V2(gw.url).call("GET", "/v2/nothing/here")
    assert seen.status == 404 and "GET /v2/nothing/here" in seen.body["detail"]
