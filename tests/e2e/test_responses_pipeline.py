"""What Bastion does for chat it does for the Responses API: spend records, the cache, fallbacks,
key limits and model permissions, end users."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest
from test_jwt_auth import jwt_auth
from test_sdk_passthrough import openai_client
from test_virtual_keys import make_key

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import deployment, standard_models
from support.identity import SigningKey, claims


def test_each_call_is_recorded_with_its_usage_and_end_user(gateway: RunningGateway) -> None:
    """One usage record per call, surface ``responses``, the upstream's usage, the end user."""
    client = openai_client(gateway)
    resp = client.responses.create(model="claude", input="hello there", max_output_tokens=4, user="alice")
    record = gateway.next_record()
    assert record.surface == "responses" and record.model_group == "claude"
    assert record.usage.output_tokens == resp.usage.output_tokens == 4  # type: ignore[union-attr]
    assert record.usage.input_tokens == resp.usage.input_tokens  # type: ignore[union-attr]
    assert record.end_user == "alice" and record.status == 200
    list(client.responses.create(model="gemini", input="hi", stream=True, safety_identifier="bob"))
    streamed = gateway.next_record()
    assert streamed.stream is True and streamed.end_user == "bob" and streamed.usage.output_tokens > 0


@pytest.mark.parametrize("group", ["claude", "gpt-resp"])
@pytest.mark.parametrize("stream_first", [False, True])
def test_the_cache_answers_the_same_request_with_a_new_response(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, group: str, stream_first: bool
) -> None:
    """A repeated request is a cache hit (whether the first was streamed or not, translated or
    passed through), answered as a new response with its own id, stored."""
    gw = start_gateway(
        {
            "model_list": [
                *standard_models(upstream.url),
                deployment("gpt-resp", "openai/gpt-4.1-mini", upstream.url + "/v1", responses_api=True),
            ],
            "litellm_settings": {"cache": True, "cache_params": {"type": "local"}},
        }
    )
    client = openai_client(gw)
    if stream_first:
        list(client.responses.create(model=group, input="hello", max_output_tokens=5, stream=True))
        gw.settle()
    first = client.responses.with_raw_response.create(model=group, input="hello", max_output_tokens=5)
    gw.settle()
    second = client.responses.with_raw_response.create(model=group, input="hello", max_output_tokens=5)
    expected = ("hit", "hit") if stream_first else ("miss", "hit")
    assert (first.headers["x-bastion-cache"], second.headers["x-bastion-cache"]) == expected
    assert len(upstream.requests) == 1
    a, b = first.parse(), second.parse()
    assert a.output_text == b.output_text and a.id != b.id
    assert client.responses.retrieve(b.id).output_text == a.output_text
    events = list(client.responses.create(model=group, input="hello", max_output_tokens=5, stream=True))
    assert events[-1].type == f"response.{a.status}"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == a.output_text
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("primary", ["anthropic/claude-primary", "openai/gpt-primary"])
def test_fallback_from_a_failing_group(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, primary: str
) -> None:
    """A failing group falls back to the next; a pass-through primary to a translated backup too."""
    base = upstream.url + "/v1" if primary.startswith("openai") else upstream.url
    gw = start_gateway(
        {
            "model_list": [
                deployment("primary", primary, base, responses_api=True)
                if primary.startswith("openai")
                else deployment("primary", primary, base),
                deployment("backup", "gemini/gemini-backup", upstream.url),
            ],
            "router_settings": {"num_retries": 0, "fallbacks": [{"primary": ["backup"]}]},
        }
    )
    upstream.script_for(primary.split("/", 1)[1], Fault(status=500))
    resp = openai_client(gw).responses.create(model="primary", input="hi", max_output_tokens=2)
    assert resp.output_text == "alpha bravo"
    assert gw.request_records()[-1]["fallback_group"] == "backup"


def test_key_limits_and_models_apply(keyed_gateway: RunningGateway) -> None:
    """A key limited to one model is refused another with 403; a spent budget is refused (400, as
    LiteLLM's budget errors are)."""
    limited = openai_client(keyed_gateway, make_key(keyed_gateway, models=("claude",)))
    assert limited.responses.create(model="claude", input="hi").output_text
    with pytest.raises(openai.PermissionDeniedError):
        limited.responses.create(model="gemini", input="hi")
    broke = openai_client(keyed_gateway, make_key(keyed_gateway, max_budget=0.0001, spend=1.0))
    with pytest.raises(openai.BadRequestError) as caught:
        broke.responses.create(model="claude", input="hi")
    assert "Budget has been exceeded" in caught.value.message


def test_the_budget_estimate_reads_input_instructions_and_max_output_tokens(
    keyed_gateway: RunningGateway,
) -> None:
    """Admission prices the Responses fields: a long input, long instructions or a large
    max_output_tokens would overrun a small budget and are refused before any upstream call."""
    client = openai_client(keyed_gateway, make_key(keyed_gateway, max_budget=0.01))
    assert client.responses.create(model="claude", input="hi", max_output_tokens=5).output_text
    for fields in (
        {"input": "hi", "max_output_tokens": 4000},
        {"input": "word " * 20000, "max_output_tokens": 5},
        {"input": "hi", "instructions": "rule " * 20000, "max_output_tokens": 5},
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="claude", **fields)  # type: ignore[arg-type]
        assert "could cost up to" in caught.value.message


@pytest.fixture(scope="module")
def idp_keys() -> dict[str, SigningKey]:
    return {kind: SigningKey(kind) for kind in ("rsa", "ec")}


def test_an_end_users_jwt_owns_its_responses(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp_keys: dict[str, SigningKey]
) -> None:
    """An end user's token creates, reads and continues its responses (so does a fresh token of the
    same user); another user's token cannot see them."""
    jwt_gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"jwt_auth": jwt_auth(list(idp_keys.values()))},
        }
    )
    alice = openai_client(jwt_gateway, idp_keys["rsa"].sign(claims("alice", org={"team": "writers"})))
    resp = alice.responses.create(model="claude", input="hello")
    record = jwt_gateway.next_record()
    assert (record.surface, record.principal_kind, record.user_id) == ("responses", "jwt", "alice")
    again = openai_client(jwt_gateway, idp_keys["ec"].sign(claims("alice", org={"team": "writers"})))
    assert again.responses.retrieve(resp.id).id == resp.id
    assert again.responses.create(model="claude", input="more", previous_response_id=resp.id).output_text
    bob = openai_client(jwt_gateway, idp_keys["rsa"].sign(claims("bob", org={"team": "writers"})))
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(resp.id)
