"""Repeated prompts are answered from the response cache: once upstream, then from memory or Redis."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from google.genai import types as genai_types
from test_key_api import post
from test_sdk_passthrough import anthropic_client, genai_client, openai_client
from test_shared_limits import Served

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import STATIC_KEY, standard_models
from support.backends import REDIS, require
from support.serve import ServeProcess

MESSAGES = [{"role": "user", "content": "hello there"}]


def cached_gateway(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, backend: str, **params: Any
) -> RunningGateway:
    cache_params: dict[str, Any] = {"type": "local", **params}
    if backend == "redis":
        require(6379, "Redis")
        cache_params.update(type="redis", redis_url=REDIS, namespace="bt" + secrets.token_hex(6))
    return start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"cache": True, "cache_params": cache_params},
            "bastion_settings": {"static_keys": [{"key": STATIC_KEY, "alias": "other"}]},
        }
    )


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def upstream_calls(upstream: MockUpstream) -> int:
    return len(upstream.requests)


@pytest.mark.parametrize("model", ["gpt", "claude", "mock"])
def test_identical_request_is_served_once_upstream(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, backend: str, model: str
) -> None:
    """Pass-through (gpt), translated (claude) and the built-in mock: the second call is a hit."""
    gw = cached_gateway(start_gateway, upstream, backend)
    client = openai_client(gw)
    first = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, max_tokens=5)
    gw.settle()
    second = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, max_tokens=5)
    assert first.headers["x-bastion-cache"] == "miss"
    assert second.headers["x-bastion-cache"] == "hit"
    assert first.headers["x-litellm-cache-key"] == second.headers["x-litellm-cache-key"]
    assert upstream_calls(upstream) == (0 if model == "mock" else 1)
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    records = [gw.next_record(), gw.next_record()]
    assert [r.cache_hit for r in records] == [False, True]
    assert records[1].cost_usd == 0.0 and records[1].provider == "cache"


def test_a_different_request_is_a_miss(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Another temperature changes the key; stream and user do not."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = openai_client(gw)
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
    gw.settle()
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5, user="someone-else")
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5, temperature=0.5)
    assert upstream_calls(upstream) == 2


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_a_streamed_answer_is_replayed_as_a_stream_and_as_a_body(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, backend: str, model: str
) -> None:
    """A stream stores the answer; the same request streamed again, or not streamed, is a hit."""
    gw = cached_gateway(start_gateway, upstream, backend)
    client = openai_client(gw)

    def streamed() -> tuple[str, str]:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=MESSAGES, max_tokens=5, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
        return raw.headers["x-bastion-cache"], text

    assert streamed() == ("miss", "alpha bravo charlie delta echo")
    gw.settle()
    assert streamed() == ("hit", "alpha bravo charlie delta echo")
    body = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, max_tokens=5)
    assert body.headers["x-bastion-cache"] == "hit"
    assert body.parse().choices[0].message.content == "alpha bravo charlie delta echo"
    assert upstream_calls(upstream) == 1


def test_anthropic_stream_replayed_in_anthropic_format(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """The Anthropic SDK reads a cached stream as a proper message stream, usage included."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = anthropic_client(gw)
    texts = []
    for _ in range(2):
        with client.messages.stream(model="claude", max_tokens=5, messages=MESSAGES) as stream:
            message = stream.get_final_message()
        gw.settle()
        texts.append(message.content[0].text)  # type: ignore[union-attr]
        assert message.usage.output_tokens == 5
    assert texts[0] == texts[1] == "alpha bravo charlie delta echo"
    assert upstream_calls(upstream) == 1


def test_clients_opt_out_per_request(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Cache-Control: no-cache skips the lookup; LiteLLM's cache: {no-store: true} skips the store."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = openai_client(gw)
    client.chat.completions.create(
        model="gpt", messages=MESSAGES, max_tokens=5, extra_body={"cache": {"no-store": True}}
    )
    assert "cache" not in upstream.requests[0].body  # for the gateway, never the provider
    gw.settle()
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)  # miss: nothing stored
    gw.settle()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5, extra_headers={"Cache-Control": "no-cache"}
    )
    assert raw.headers["x-bastion-cache"] == "miss"
    hit = client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES, max_tokens=5)
    assert hit.headers["x-bastion-cache"] == "hit"
    assert upstream_calls(upstream) == 3


def test_errors_and_broken_streams_are_never_cached(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """An upstream error, an in-band stream error and a dropped stream leave nothing in the cache."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = openai_client(gw)
    upstream.script(Fault(status=500))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
    upstream.script(Fault(drop_after=2))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5, stream=True))
    upstream.script(Fault(error_after=2))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="claude", messages=MESSAGES, max_tokens=5, stream=True))
    gw.settle()
    raw = client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES, max_tokens=5)
    assert raw.headers["x-bastion-cache"] == "miss"
    raw = client.chat.completions.with_raw_response.create(
        model="claude", messages=MESSAGES, max_tokens=5, stream=True
    )
    list(raw.parse())
    assert raw.headers["x-bastion-cache"] == "miss"
    assert upstream_calls(upstream) == 5


def test_entries_do_not_leak_across_keys(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """With scope key (the default) another key misses; with scope global it hits."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    openai_client(gw).chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
    gw.settle()
    other = openai_client(gw, STATIC_KEY).chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5
    )
    assert other.headers["x-bastion-cache"] == "miss"
    assert upstream_calls(upstream) == 2


def test_scope_global_shares_across_keys(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gw = cached_gateway(start_gateway, upstream, "memory", scope="global")
    openai_client(gw).chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
    gw.settle()
    other = openai_client(gw, STATIC_KEY).chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5
    )
    assert other.headers["x-bastion-cache"] == "hit"
    assert upstream_calls(upstream) == 1


def test_hits_are_counted_in_metrics(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = openai_client(gw)
    for _ in range(3):
        client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
        gw.settle()
    page = gw.metrics.render().decode()
    assert 'bastion_cache_lookups_total{model_group="gpt",result="hit"} 2.0' in page
    assert 'bastion_cache_lookups_total{model_group="gpt",result="miss"} 1.0' in page


def test_anthropic_errors_stay_in_anthropic_format_with_cache_on(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """A cached gateway still reports upstream errors in the caller's format."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    upstream.script(Fault(status=500))
    with pytest.raises(anthropic.InternalServerError):
        anthropic_client(gw).messages.create(model="claude", max_tokens=5, messages=MESSAGES)


def test_gemini_stream_then_generate_from_the_cache(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, backend: str
) -> None:
    """A Gemini pass-through stream is stored; generateContent and the stream replay it."""
    gw = cached_gateway(start_gateway, upstream, backend)
    client = genai_client(gw)
    config = genai_types.GenerateContentConfig(max_output_tokens=3)
    pieces = [
        c.text or ""
        for c in client.models.generate_content_stream(model="gemini", contents="hi", config=config)
    ]
    gw.settle()
    assert "".join(pieces) == "alpha bravo charlie"
    assert (
        client.models.generate_content(model="gemini", contents="hi", config=config).text
        == "alpha bravo charlie"
    )
    again = [
        c.text or ""
        for c in client.models.generate_content_stream(model="gemini", contents="hi", config=config)
    ]
    assert "".join(again) == "alpha bravo charlie"
    assert upstream_calls(upstream) == 1


def test_default_off_caches_only_requests_that_ask(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """LiteLLM's mode default_off: only cache: {use-cache: true} reads and writes the cache."""
    gw = cached_gateway(start_gateway, upstream, "memory", mode="default_off")
    client = openai_client(gw)
    plain = client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES, max_tokens=5)
    assert "x-bastion-cache" not in plain.headers
    ask = {"cache": {"use-cache": True}}
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5, extra_body=ask)
    gw.settle()
    hit = client.chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5, extra_body=ask
    )
    assert hit.headers["x-bastion-cache"] == "hit"
    assert upstream_calls(upstream) == 2


def test_a_key_can_turn_the_cache_off(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Key metadata cache: {enabled: false} keeps that key's calls out of the cache."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    key = post(gw, "/key/generate", {"metadata": {"cache": {"enabled": False}}})["key"]
    client = openai_client(gw, key)
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES, max_tokens=5)
        gw.settle()
        assert "x-bastion-cache" not in raw.headers
    assert upstream_calls(upstream) == 2


def test_s_maxage_refuses_older_entries(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """LiteLLM's cache: {s-maxage: N} accepts only entries stored less than N seconds ago."""
    gw = cached_gateway(start_gateway, upstream, "memory")
    client = openai_client(gw)
    client.chat.completions.create(model="gpt", messages=MESSAGES, max_tokens=5)
    gw.settle()
    fresh = client.chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5, extra_body={"cache": {"s-maxage": 3600}}
    )
    assert fresh.headers["x-bastion-cache"] == "hit"
    stale = client.chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5, extra_body={"cache": {"s-maxage": 1e-6}}
    )
    assert stale.headers["x-bastion-cache"] == "miss"


def test_two_gateway_processes_share_the_redis_cache(
    write_config: Callable[[dict[str, Any]], Any], upstream: MockUpstream
) -> None:
    """An answer stored through one `bastion serve` process is a hit on another sharing Redis."""
    require(6379, "Redis")
    settings = write_config(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "litellm_settings": {
                "cache": True,
                "cache_params": {"namespace": "bt" + secrets.token_hex(6), "scope": "global"},
            },
            "bastion_settings": {"redis_url": REDIS},
        }
    )
    processes = [ServeProcess(settings.source), ServeProcess(settings.source)]
    try:
        for process in processes:
            process.start()
        first, second = (Served(process) for process in processes)
        one = openai_client(first).chat.completions.with_raw_response.create(
            model="claude", messages=MESSAGES, max_tokens=5, stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in one.parse() if c.choices)
        two = anthropic_client(second).messages.with_raw_response.create(
            model="claude", messages=MESSAGES, max_tokens=5
        )
        assert one.headers["x-bastion-cache"] == "miss"
        assert two.headers["x-bastion-cache"] == "miss"  # another surface: another entry
        three = openai_client(second).chat.completions.with_raw_response.create(
            model="claude", messages=MESSAGES, max_tokens=5
        )
        assert three.headers["x-bastion-cache"] == "hit"
        assert three.parse().choices[0].message.content == "alpha bravo charlie delta echo"
        assert upstream_calls(upstream) == 2
    finally:
        for process in processes:
            process.terminate()
            process.wait()
