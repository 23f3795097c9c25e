"""The seed systems' own configurations and clients, run as they are written."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import anthropic
import orjson
from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, deployment


def proliferate_gateway(start: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    """The Proliferate seed's model_list and settings, with the mock standing in for Anthropic."""
    return start(
        {
            "model_list": [
                deployment(
                    "anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5-20250929", upstream.url
                ),
                deployment("anthropic/claude-opus-4-5", "anthropic/claude-opus-4-5-20251101", upstream.url),
            ],
            "litellm_settings": {"drop_params": True, "set_verbose": False},
            "router_settings": {"num_retries": 2, "retry_after": 1, "timeout": 300},
        }
    )


def test_opencode_sends_the_bare_model_id(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """OpenCode strips its provider prefix: 'claude-sonnet-4-5' reaches 'anthropic/claude-sonnet-4-5'."""
    gw = proliferate_gateway(start_gateway, upstream)
    body = orjson.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    )
    request = urllib.request.Request(
        gw.url + "/v1/messages",  # OpenCode's baseURL ends in /v1 and it posts to {baseURL}/messages
        data=body,
        headers={
            "x-api-key": MASTER_KEY,
            "content-type": "application/json",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
        },
    )
    with urllib.request.urlopen(request) as resp:
        answer = orjson.loads(resp.read())
    assert answer["type"] == "message" and answer["content"][0]["text"] == "alpha bravo charlie"
    sent = upstream.requests[-1]
    assert isinstance(sent.body, dict) and sent.body["model"] == "claude-sonnet-4-5-20250929"
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert gw.request_records()[-1]["model_group"] == "anthropic/claude-sonnet-4-5"


def test_claude_code_environment(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """ANTHROPIC_BASE_URL (no /v1) + ANTHROPIC_AUTH_TOKEN, the full group name, streaming with ?beta=true."""
    gw = proliferate_gateway(start_gateway, upstream)
    client = anthropic.Anthropic(
        base_url=gw.url, auth_token=MASTER_KEY, max_retries=0, default_query={"beta": "true"}
    )
    with client.messages.stream(
        model="anthropic/claude-opus-4-5", max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == "alpha bravo"
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"  # the client's ?beta=true is ours to read, not the provider's
    assert isinstance(sent.body, dict) and sent.body["model"] == "claude-opus-4-5-20251101"


def test_in_band_upstream_error_is_recorded_as_a_failure(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """A pass-through stream that the provider ends with an error event is logged as failed, not 200."""
    gw = proliferate_gateway(start_gateway, upstream)
    upstream.script(Fault(error_after=1, message="Overloaded"))
    client = anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0)
    try:
        for _ in client.messages.create(
            model="anthropic/claude-sonnet-4-5",
            max_tokens=5,
            stream=True,
            messages=[{"role": "user", "content": "hi"}],
        ):
            pass
    except anthropic.APIStatusError:
        pass
    record = gw.next_record()  # written when the upstream's body ends, which may be after the client left
    assert record.status == 529 and record.error_kind == "overloaded"


def test_deployment_defaults_use_each_protocols_names(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """litellm_params defaults reach a pass-through Anthropic body under Anthropic's own names only."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("tuned", "anthropic/claude-x", upstream.url, temperature=0.2, top_k=5, seed=7)
            ]
        }
    )
    anthropic.Anthropic(base_url=gw.url, api_key=MASTER_KEY, max_retries=0).messages.create(
        model="tuned", max_tokens=1, messages=[{"role": "user", "content": "hi"}]
    )
    body = upstream.requests[-1].body
    assert isinstance(body, dict)
    assert body["temperature"] == 0.2 and body["top_k"] == 5 and "seed" not in body


def test_short_name_is_not_guessed_when_ambiguous(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Two groups with the same short name: the short name is refused, listing the real names."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("openai/shared", "openai/a", upstream.url + "/v1"),
                deployment("azure/shared", "openai/b", upstream.url + "/v1"),
            ]
        }
    )
    import openai

    try:
        openai_client(gw).chat.completions.create(model="shared", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as err:
        assert "openai/shared, azure/shared" in err.message
    else:
        raise AssertionError("an ambiguous short name must not be routed")


def test_wildcard_groups_route_any_matching_model(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """LiteLLM wildcards: 'openai/*' serves 'openai/<m>' as upstream '<m>'; '*' catches the rest."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("exact", "openai/exact-model", upstream.url + "/v1"),
                deployment("openai/*", "openai/*", upstream.url + "/v1"),
                deployment("*", "anthropic/*", upstream.url),
            ]
        }
    )
    client = openai_client(gw)
    client.chat.completions.create(model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].path == "/v1/chat/completions"
    assert isinstance(upstream.requests[-1].body, dict) and upstream.requests[-1].body["model"] == "gpt-4o"
    client.chat.completions.create(model="claude-haiku-4-5", messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].path == "/v1/messages"
    assert isinstance(upstream.requests[-1].body, dict)
    assert upstream.requests[-1].body["model"] == "claude-haiku-4-5"
    client.chat.completions.create(model="exact", messages=[{"role": "user", "content": "x"}])
    assert (
        isinstance(upstream.requests[-1].body, dict) and upstream.requests[-1].body["model"] == "exact-model"
    )
