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


def test_hostile_ids_are_not_found(keyed_gateway: RunningGateway) -> None:
    """Ids with NUL, control characters or thousands of characters are a 404 in OpenAI's format
    (never a 500), on GET, DELETE, input_items and previous_response_id."""
    client = openai_client(keyed_gateway)
    for hostile in ("resp_\x00x", "resp_" + "x" * 5000, "résp_\u2028", "%00"):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(hostile)
        with pytest.raises(openai.NotFoundError):
            client.responses.delete(hostile)
        with pytest.raises(openai.NotFoundError):
            client.responses.input_items.list(hostile)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="claude", input="hi", previous_response_id=hostile)


def test_a_failing_store_never_costs_the_client_its_answer(keyed_gateway: RunningGateway) -> None:
    """When storing fails (here the table is gone), the answer still arrives whole, streamed or
    not, and the failure is logged."""
    assert keyed_gateway.app is not None and keyed_gateway.app.database is not None
    engine = keyed_gateway.app.database.engine

    async def drop() -> None:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP TABLE responses")

    keyed_gateway.call(drop())
    client = openai_client(keyed_gateway)
    assert client.responses.create(model="claude", input="hello").output_text
    events = list(client.responses.create(model="claude", input="hello", stream=True))
    assert events[-1].type == "response.completed"
    assert "could not store response" in keyed_gateway.log_text()


def test_input_items_page_with_after(keyed_gateway: RunningGateway) -> None:
    """input_items lists newest first by default, pages with ``limit`` and ``after`` over ids that
    stay the same between listings, and refuses a bad ``order`` or ``limit``."""
    client = openai_client(keyed_gateway)
    turns = [{"role": "user", "content": f"turn {n}"} for n in range(5)]
    resp = client.responses.create(model="claude", input=turns)  # type: ignore[arg-type]
    first = client.responses.input_items.list(resp.id, limit=2)
    assert [item.content[0].text for item in first.data] == ["turn 4", "turn 3"]  # type: ignore[union-attr]
    assert first.has_more is True and first.last_id == first.data[-1].id
    rest = client.responses.input_items.list(resp.id, limit=10, after=first.last_id)
    assert [item.content[0].text for item in rest.data] == ["turn 2", "turn 1", "turn 0"]  # type: ignore[union-attr]
    assert rest.has_more is False
    every = [item.id for item in client.responses.input_items.list(resp.id, order="asc").data]
    assert every == list(reversed([item.id for item in (*first.data, *rest.data)]))
    with pytest.raises(openai.BadRequestError):
        client.responses.input_items.list(resp.id, order="sideways")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client.responses.input_items.list(resp.id, limit=0)
