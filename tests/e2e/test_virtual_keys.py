"""Virtual keys at work: expiry, blocking, model lists, rate limits and budgets, on both backends.

``embedded`` is the default deployment (SQLite file, in-process limits); ``scaled`` is PostgreSQL
for the store and Redis for the limits, as several gateway processes would share them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import openai
import pytest
from test_sdk_passthrough import anthropic_client, openai_client

from bastion.auth.virtual_keys import mint_key
from bastion.store.records import KeyRecord, TeamRecord
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream


def make_key(gw: RunningGateway, **fields: Any) -> str:
    """Create a virtual key straight in the gateway's store; return the plaintext key."""
    assert gw.app is not None and gw.app.database is not None
    material = mint_key()
    team = fields.get("team_id")
    db = gw.app.database

    async def create() -> None:
        if team is not None and await db.teams.get(team) is None:
            await db.teams.create(TeamRecord(team_id=team, **fields.pop("team", {})))
        await db.keys.create(KeyRecord(token=material.token, key_name=material.key_name, **fields))

    gw.call(create())
    return material.key


def test_a_virtual_key_works_with_both_sdks(keyed_gateway: RunningGateway) -> None:
    """A generated key authenticates on the OpenAI and the Anthropic surface."""
    key = make_key(keyed_gateway, team_id="org-1", user_id="session-1")
    assert openai_client(keyed_gateway, key).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    message = anthropic_client(keyed_gateway, key).messages.create(
        model="mock", max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content
    record = keyed_gateway.next_record()
    assert (
        record.team_id == "org-1" and record.user_id == "session-1" and record.principal_kind == "virtual_key"
    )


def test_expired_and_blocked_keys_are_refused(keyed_gateway: RunningGateway) -> None:
    """An expired or a blocked key gets 401 saying which."""
    expired = make_key(keyed_gateway, expires=datetime.now(UTC) - timedelta(seconds=1))
    blocked = make_key(keyed_gateway, blocked=True)
    with pytest.raises(openai.AuthenticationError, match="expired"):
        openai_client(keyed_gateway, expired).chat.completions.create(model="mock", messages=[])
    with pytest.raises(anthropic.AuthenticationError, match="blocked"):
        anthropic_client(keyed_gateway, blocked).messages.create(model="mock", max_tokens=1, messages=[])


def test_models_outside_the_key_and_team_lists(keyed_gateway: RunningGateway) -> None:
    """The narrower of the key's and the team's model lists applies; 403 names what is allowed."""
    key = make_key(
        keyed_gateway, team_id="org-m", models=("gpt", "mock"), team={"models": ("mock", "claude")}
    )
    client = openai_client(keyed_gateway, key)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    with pytest.raises(openai.PermissionDeniedError, match="Models allowed for this key: mock"):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
    assert [m.id for m in client.models.list()] == ["mock"]


def test_rpm_limit_answers_a_friendly_429(keyed_gateway: RunningGateway) -> None:
    """Over the key's rpm: a 429 with retry-after and a message a person understands."""
    key = make_key(keyed_gateway, rpm_limit=2)
    client = openai_client(keyed_gateway, key)
    for _ in range(2):
        client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": "x"}], max_tokens=1
        )
    assert float(info.value.response.headers["retry-after"]) > 0
    assert "try again" in info.value.message.lower()
    assert key not in info.value.response.text


def test_budget_is_enforced_with_reservations(keyed_gateway: RunningGateway) -> None:
    """A budget admits what fits (spend + reservations) and then answers budget_exceeded with the numbers."""
    # claude-sonnet-4-5: $3 / $15 per million; one call with max_tokens=5 costs about $0.00008.
    key = make_key(keyed_gateway, max_budget=0.0002)
    client = anthropic_client(keyed_gateway, key)
    for _ in range(2):
        client.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    text = info.value.body["error"]["message"]  # type: ignore[index]
    assert "Budget has been exceeded" in text and "0.0002" in text


def test_parallel_slot_is_released_after_an_upstream_failure(
    keyed_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """max_parallel_requests=1: a failed call frees its slot, so the next call is admitted."""
    key = make_key(keyed_gateway, max_parallel_requests=1)
    client = openai_client(keyed_gateway, key)
    upstream.script(Fault(status=500))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}], max_tokens=1)
    keyed_gateway.settle()
    assert client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "x"}], max_tokens=1
    )
