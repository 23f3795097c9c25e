"""The pipeline records every call exactly once and settles its admission, whatever path it took."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest
from test_sdk_passthrough import anthropic_client, openai_client
from test_virtual_keys import make_key

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import deployment, standard_models

MESSAGES = [{"role": "user", "content": "hi"}]


def test_every_path_is_recorded_once_and_frees_its_slot(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """One key with a single parallel slot goes down every path (answer, cache hit, upstream
    refusal, fallback, stream cut mid-way, embeddings, token count, unknown model): each call is
    admitted (the one before freed its slot) and leaves exactly one record."""
    gw = start_gateway(
        {
            "model_list": [
                *standard_models(upstream.url),
                deployment("primary", "anthropic/claude-primary", upstream.url),
            ],
            "router_settings": {"num_retries": 0, "fallbacks": [{"primary": ["gpt"]}]},
            "litellm_settings": {"cache": True, "cache_params": {"type": "local"}},
        }
    )
    key = make_key(gw, max_parallel_requests=1)
    client = openai_client(gw, key)
    records = []

    def settled() -> None:
        records.append(gw.next_record())  # written when the call ended (a cut stream: after the client)
        gw.settle()

    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=2)  # type: ignore[arg-type]
    settled()
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=2)  # type: ignore[arg-type]
    settled()  # a cache hit
    upstream.script(Fault(status=400, message="no such field"))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=3)  # type: ignore[arg-type]
    settled()
    upstream.script_for("claude-primary", Fault(status=500))
    client.chat.completions.create(model="primary", messages=MESSAGES, max_tokens=2)  # type: ignore[arg-type]
    settled()
    upstream.script(Fault(drop_after=1))
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=4, stream=True):  # type: ignore[arg-type]
            pass
    settled()
    client.embeddings.create(model="gpt", input="hello")
    settled()
    anthropic_client(gw, key).messages.count_tokens(model="claude", messages=MESSAGES)  # type: ignore[arg-type]
    settled()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nothing-here", messages=MESSAGES)  # type: ignore[arg-type]
    settled()

    assert gw.records.empty()  # a second record of any call would have shown up by now
    assert len({r.request_id for r in records}) == len(records) == 8
    assert [r.status for r in records] == [200, 200, 400, 200, 502, 200, 200, 404]
    assert records[1].cache_hit and records[3].fallback_group == "gpt"


def test_what_a_surface_learns_reaches_the_record_through_the_pipeline(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Surfaces hand ``stream`` and the end user to the call; the pipeline writes them on the
    record (nothing outside gateway/ sets a record field): a streamed call with ``user``, a plain
    one, a refused one (recorded as before: the request's details are noted once admitted), and
    the Responses API's ``safety_identifier`` when no ``user`` is given."""
    gw = start_gateway({"model_list": standard_models(upstream.url)})
    client = openai_client(gw, make_key(gw))

    for _ in client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True, user="u-1"):  # type: ignore[arg-type]
        pass
    streamed = gw.next_record()
    client.chat.completions.create(model="gpt", messages=MESSAGES)  # type: ignore[arg-type]
    plain = gw.next_record()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nothing-here", messages=MESSAGES, stream=True, user="u-2")  # type: ignore[arg-type]
    refused = gw.next_record()
    client.responses.create(model="gpt", input="hi", extra_body={"safety_identifier": "s-1"})
    identified = gw.next_record()

    assert (streamed.stream, streamed.end_user) == (True, "u-1")
    assert (plain.stream, plain.end_user) == (False, None)
    assert (refused.status, refused.stream, refused.end_user) == (404, False, None)
    assert (identified.surface, identified.end_user) == ("responses", "s-1")
    assert gw.records.empty()
