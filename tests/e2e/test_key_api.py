"""The LiteLLM key API through a real gateway: the seed's session-key flow, and revocation."""

from __future__ import annotations

import secrets
import urllib.request
from typing import Any

import anthropic
import openai
import orjson
import pytest
from test_sdk_passthrough import anthropic_client, openai_client

from bastion.admin import AdminError, generate_session_key
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY


def post(gw: RunningGateway, path: str, body: dict[str, Any], key: str = MASTER_KEY) -> dict[str, Any]:
    request = urllib.request.Request(
        gw.url + path,
        data=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as resp:
        return orjson.loads(resp.read())  # type: ignore[no-any-return]


def test_seed_session_key_flow(keyed_gateway: RunningGateway) -> None:
    """generateSessionAPIKey as the seed writes it: team ensured, key with team, user, 24h, $50."""
    key = generate_session_key(
        "session-42", "org-7", proxy_url=keyed_gateway.url, master_key=MASTER_KEY, max_budget=50
    )
    assert key.startswith("sk-")
    # A second session of the same org reuses the team.
    other = generate_session_key("session-43", "org-7", proxy_url=keyed_gateway.url, master_key=MASTER_KEY)
    assert other != key
    reply = openai_client(keyed_gateway, key).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert reply.choices[0].message.content
    assert (
        anthropic_client(keyed_gateway, key)
        .messages.create(model="mock", max_tokens=2, messages=[{"role": "user", "content": "hi"}])
        .content
    )
    record = keyed_gateway.next_record()
    assert (record.team_id, record.user_id) == ("org-7", "session-42")
    info = orjson.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                keyed_gateway.url + "/key/info", headers={"authorization": f"Bearer {key}"}
            )
        ).read()
    )
    assert info["info"]["team_id"] == "org-7" and info["info"]["max_budget"] == 50
    assert info["info"]["expires"] is not None


def test_generate_shape_and_delete(keyed_gateway: RunningGateway) -> None:
    """/key/generate answers LiteLLM's fields; a deleted key stops working at once."""
    made = post(
        keyed_gateway, "/key/generate", {"duration": "30m", "models": ["mock"], "key_alias": "sandbox-1"}
    )
    key = made["key"]
    assert made["key_name"] == f"sk-...{key[-4:]}" and len(made["token"]) == 64 and made["expires"]
    client = openai_client(keyed_gateway, key)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    assert post(keyed_gateway, "/key/delete", {"keys": [key]})["deleted_keys"] == [key]
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )


def test_an_old_key_in_its_grace_period_can_be_revoked_early(keyed_gateway: RunningGateway) -> None:
    """/key/regenerate with a grace period keeps the old value working; /key/delete of the old value
    stops it at once (cached or not) while the new value keeps working."""
    old = post(keyed_gateway, "/key/generate", {"models": ["mock"]})["key"]
    ask = [{"role": "user", "content": "x"}]
    old_client = openai_client(keyed_gateway, old)
    old_client.chat.completions.create(model="mock", messages=ask, max_tokens=1)  # cached now
    new = post(keyed_gateway, "/key/regenerate", {"key": old, "grace_period": "24h"})["key"]
    old_client.chat.completions.create(model="mock", messages=ask, max_tokens=1)
    assert post(keyed_gateway, "/key/delete", {"keys": [old]})["deleted_keys"] == [old]
    with pytest.raises(openai.AuthenticationError):
        old_client.chat.completions.create(model="mock", messages=ask, max_tokens=1)
    reply = openai_client(keyed_gateway, new).chat.completions.create(
        model="mock", messages=ask, max_tokens=1
    )
    assert reply.choices[0].message.content is not None


def test_management_needs_the_master_key(keyed_gateway: RunningGateway) -> None:
    """A virtual key cannot mint keys."""
    key = post(keyed_gateway, "/key/generate", {})["key"]
    with pytest.raises(urllib.error.HTTPError) as info:
        post(keyed_gateway, "/key/generate", {}, key=key)
    assert info.value.code == 403


def test_admin_error_carries_the_gateway_message(keyed_gateway: RunningGateway) -> None:
    """bastion.admin raises AdminError with the status and the gateway's message."""
    with pytest.raises(AdminError) as info:
        generate_session_key("s", "o", proxy_url=keyed_gateway.url, master_key="sk-wrong-000000000")
    assert info.value.status == 401


def test_user_budget_applies_to_the_users_keys(keyed_gateway: RunningGateway) -> None:
    """/user/new with a budget: the user's key is refused once the user's spend would pass it."""
    # A fresh id: Redis budget counters outlive the test's database schema.
    made = post(keyed_gateway, "/user/new", {"user_id": "u-" + secrets.token_hex(6), "max_budget": 0.0001})
    client = anthropic_client(keyed_gateway, made["key"])
    client.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="Budget has been exceeded"):
        client.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


def test_user_update_list_and_delete(keyed_gateway: RunningGateway) -> None:
    """/user/update changes a user's limits; /user/list shows users; /user/delete removes them and keys."""
    user_id = "u-" + secrets.token_hex(6)
    key = post(keyed_gateway, "/user/new", {"user_id": user_id})["key"]
    client = openai_client(keyed_gateway, key)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    assert post(keyed_gateway, "/user/update", {"user_id": user_id, "rpm_limit": 1})["data"]["rpm_limit"] == 1
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    listing = orjson.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                keyed_gateway.url + "/user/list?page_size=100",
                headers={"authorization": f"Bearer {MASTER_KEY}"},
            )
        ).read()
    )
    assert user_id in [u["user_id"] for u in listing["users"]] and listing["total"] >= 1
    assert post(keyed_gateway, "/user/delete", {"user_ids": [user_id]}) == {"deleted_users": [user_id]}
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
