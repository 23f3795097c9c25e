"""Stored responses are scoped to the key that created them, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import openai
import pytest
from test_sdk_passthrough import openai_client
from test_virtual_keys import make_key

from bastion.testing.gateway import RunningGateway


def test_another_key_never_reads_continues_or_deletes(keyed_gateway: RunningGateway) -> None:
    """Key B gets 404 for key A's response on GET, input_items, DELETE and previous_response_id;
    the master key reads it; key A still has it after B's attempts."""
    owner = openai_client(keyed_gateway, make_key(keyed_gateway))
    other = openai_client(keyed_gateway, make_key(keyed_gateway))
    resp = owner.responses.create(model="claude", input="remember the number 7")
    for attempt in (
        lambda: other.responses.retrieve(resp.id),
        lambda: other.responses.input_items.list(resp.id),
        lambda: other.responses.delete(resp.id),
        lambda: other.responses.create(model="claude", input="which number?", previous_response_id=resp.id),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            attempt()
        assert resp.id in caught.value.message
    assert openai_client(keyed_gateway).responses.retrieve(resp.id).id == resp.id  # the master key
    fetched = owner.responses.retrieve(resp.id)
    assert fetched.output_text == resp.output_text
    items = owner.responses.input_items.list(resp.id)
    assert [item.type for item in items.data] == ["message"]
    follow = owner.responses.create(model="claude", input="which number?", previous_response_id=resp.id)
    listed = owner.responses.input_items.list(follow.id, order="asc")
    assert "remember the number 7" in listed.data[0].model_dump_json()
    owner.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        owner.responses.retrieve(resp.id)


def test_expired_responses_are_gone(keyed_gateway: RunningGateway) -> None:
    """A response past its retention is not found, and purging deletes its row."""
    client = openai_client(keyed_gateway)
    resp = client.responses.create(model="claude", input="hello")
    assert keyed_gateway.app is not None and keyed_gateway.app.database is not None
    repo = keyed_gateway.app.database.responses
    later = datetime.now(UTC) + timedelta(days=31)
    aged = type(repo)(repo._engine, clock=lambda: later)
    assert keyed_gateway.call(aged.get(resp.id)) is None
    assert keyed_gateway.call(aged.purge_expired()) >= 1
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
