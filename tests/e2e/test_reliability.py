"""Retries, fallbacks, timeouts and load balancing against a mock upstream that fails on demand."""

from __future__ import annotations

import http.client
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, deployment, standard_models


@pytest.mark.parametrize("status", [429, 500, 503, 529, 408])
def test_retryable_status_is_retried(gateway: RunningGateway, upstream: MockUpstream, status: int) -> None:
    """A retryable upstream failure is retried and the client only sees the success."""
    upstream.script(Fault(status=status, retry_after=0.01))
    resp = openai_client(gateway).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert resp.choices[0].message.content == "alpha bravo"
    assert len(upstream.requests) == 2
    assert gateway.request_records()[-1]["attempts"] == 2


@pytest.mark.parametrize("status", [400, 422])
def test_client_errors_are_not_retried(gateway: RunningGateway, upstream: MockUpstream, status: int) -> None:
    """A request the provider rejects is not sent again, and the provider's status reaches the client."""
    upstream.script(Fault(status=status, message="bad field foo"))
    with pytest.raises(openai.APIStatusError) as info:
        openai_client(gateway).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == status
    assert "bad field foo" in str(info.value)
    assert len(upstream.requests) == 1


def test_retries_give_up_with_the_last_error(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """After num_retries the last upstream error is reported in the caller's format (Anthropic here)."""
    upstream.script(*[Fault(status=529, message="Overloaded", retry_after=0.01)] * 3)
    with pytest.raises(anthropic.APIStatusError) as info:
        anthropic_client(gateway).messages.create(
            model="claude", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "Overloaded" in info.value.body["error"]["message"]  # type: ignore[index]
    assert len(upstream.requests) == 3


def test_fallback_group_takes_over(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """When a group's deployments keep failing, the configured fallback group answers."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("primary", "anthropic/claude-primary", upstream.url),
                deployment("backup", "openai/gpt-backup", upstream.url + "/v1"),
            ],
            "router_settings": {"num_retries": 1, "fallbacks": [{"primary": ["backup"]}]},
        }
    )
    upstream.script_for("claude-primary", *[Fault(status=500, retry_after=0.01)] * 2)
    resp = openai_client(gw).chat.completions.create(
        model="primary", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert resp.choices[0].message.content == "alpha bravo"
    assert [r.path for r in upstream.requests] == ["/v1/messages", "/v1/messages", "/v1/chat/completions"]
    record = gw.request_records()[-1]
    assert record["fallback_group"] == "backup" and record["provider"] == "openai"


def test_failing_deployment_is_left_for_a_healthy_one(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Within a group, a failed deployment is not retried while another one is available."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("pair", "openai/model-a", upstream.url + "/v1"),
                deployment("pair", "openai/model-b", upstream.url + "/v1"),
            ],
            "router_settings": {"num_retries": 2},
        }
    )
    upstream.script_for("model-a", Fault(status=503))
    upstream.script_for("model-b", Fault(status=503))
    resp = openai_client(gw).chat.completions.create(
        model="pair", messages=[{"role": "user", "content": "hi"}], max_tokens=1
    )
    assert resp.choices[0].message.content == "alpha"
    models = [r.body["model"] for r in upstream.requests if isinstance(r.body, dict)]
    assert sorted(models[:2]) == ["model-a", "model-b"]


def test_weights_balance_load(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """simple-shuffle spreads calls by weight (a 9:1 split sends most calls to the heavy deployment)."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("split", "openai/heavy", upstream.url + "/v1", weight=9),
                deployment("split", "openai/light", upstream.url + "/v1", weight=1),
            ]
        }
    )
    client = openai_client(gw)
    for _ in range(60):
        client.chat.completions.create(
            model="split", messages=[{"role": "user", "content": "hi"}], max_tokens=1
        )
    counts = Counter(r.body["model"] for r in upstream.requests if isinstance(r.body, dict))
    assert counts["heavy"] > counts["light"] > 0 or counts["heavy"] >= 45


def test_timeout_moves_on(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """A deployment slower than its timeout is abandoned for the next one."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("slowgroup", "openai/slow", upstream.url + "/v1", timeout=0.3, order=1),
                deployment("fast", "openai/fast", upstream.url + "/v1"),
            ],
            "router_settings": {"num_retries": 0, "fallbacks": [{"slowgroup": ["fast"]}]},
        }
    )
    upstream.script_for("slow", Fault(hang=True))
    resp = openai_client(gw).chat.completions.create(
        model="slowgroup", messages=[{"role": "user", "content": "hi"}], max_tokens=1
    )
    assert resp.choices[0].message.content == "alpha"
    text = gw.metrics.render().decode()
    assert 'bastion_upstream_timeouts_total{model_group="slowgroup"} 1.0' in text


def test_stream_refused_before_streaming_is_retried(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """A stream the provider refuses (529) before sending anything is retried invisibly."""
    upstream.script(Fault(status=529, retry_after=0.01))
    stream = anthropic_client(gateway).messages.create(
        model="claude", max_tokens=2, stream=True, messages=[{"role": "user", "content": "hi"}]
    )
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert len(upstream.requests) == 2


@pytest.fixture
def slow_gateway(
    start_gateway: Callable[..., RunningGateway],
) -> Iterator[tuple[RunningGateway, MockUpstream]]:
    """A gateway in front of an upstream that streams a token every 20 ms, like a real model."""
    with MockUpstream(token_delay=0.02) as slow:
        gw = start_gateway({"model_list": standard_models(slow.url), "router_settings": {"num_retries": 2}})
        yield gw, slow


@pytest.mark.parametrize("group", ["gpt", "claude", "gemini"])
def test_mid_stream_drop_ends_with_an_error_event(
    slow_gateway: tuple[RunningGateway, MockUpstream], group: str
) -> None:
    """After tokens reached the client there is no retry: the stream ends with a protocol error event."""
    gateway, upstream = slow_gateway
    upstream.script(Fault(drop_after=3))
    received = []
    with pytest.raises((openai.APIError, anthropic.APIError, genai_errors.APIError)):
        if group == "gpt":
            for chunk in openai_client(gateway).chat.completions.create(
                model=group, messages=[{"role": "user", "content": "hi"}], max_tokens=8, stream=True
            ):
                received.append(chunk)
        elif group == "claude":
            for event in anthropic_client(gateway).messages.create(
                model=group, max_tokens=8, stream=True, messages=[{"role": "user", "content": "hi"}]
            ):
                received.append(event)
        else:
            client = genai_client(gateway)  # kept in a name: a collected client closes its connection pool
            for piece in client.models.generate_content_stream(
                model=group, contents="hi", config=genai_types.GenerateContentConfig(max_output_tokens=8)
            ):
                received.append(piece)
    assert received, "tokens sent before the drop must have reached the client"
    assert len(upstream.requests) == 1
    record = gateway.next_record()  # written as the stream ends, which may be after the client gave up
    assert record.status == 502 and record.usage_estimated is True
    assert record.usage.output_tokens >= 3  # what was generated is billed


def test_in_band_upstream_error_is_forwarded(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """An upstream error event after the 200 reaches the Anthropic client as an error, not a truncation."""
    upstream.script(Fault(error_after=2, message="Overloaded"))
    with pytest.raises(anthropic.APIStatusError) as info:
        for _ in anthropic_client(gateway).messages.create(
            model="claude", max_tokens=8, stream=True, messages=[{"role": "user", "content": "hi"}]
        ):
            pass
    assert "Overloaded" in str(info.value)


def test_silent_stream_gets_keep_alives(start_gateway: Callable[..., RunningGateway]) -> None:
    """While the upstream is silent mid-stream, SSE comments keep the client's connection alive."""
    with MockUpstream(token_delay=0.3) as slow:
        gw = start_gateway(
            {"model_list": standard_models(slow.url), "bastion_settings": {"stream_keepalive_seconds": 0.05}}
        )
        body = orjson.dumps(
            {
                "model": "claude",
                "max_tokens": 2,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
        )
        request = urllib.request.Request(
            gw.url + "/v1/messages",
            data=body,
            headers={"x-api-key": MASTER_KEY, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as resp:
            raw = resp.read()
    assert b"\n\n: ping\n\n" in raw  # between whole frames, never inside one
    assert raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


@pytest.mark.parametrize("group", ["claude", "gemini"])
def test_client_leaving_mid_stream_is_billed_for_what_was_generated(
    slow_gateway: tuple[RunningGateway, MockUpstream], group: str
) -> None:
    """A client that hangs up mid-stream: the upstream call is cut and what was streamed is recorded."""
    gateway, _ = slow_gateway
    host, port = gateway.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    if group == "claude":
        path, body = "/v1/messages", {"model": group, "max_tokens": 50, "stream": True}
    else:
        path, body = "/v1beta/models/gemini:streamGenerateContent?alt=sse", {}
    body["messages" if group == "claude" else "contents"] = (
        [{"role": "user", "content": "hi"}] if group == "claude" else [{"parts": [{"text": "hi"}]}]
    )
    conn.request("POST", path, body=orjson.dumps(body), headers={"x-api-key": MASTER_KEY})
    resp = conn.getresponse()
    marker = b"text_delta" if group == "claude" else b'"text"'
    seen = 0
    while seen < 4:  # read a few token frames, then leave
        line = resp.readline()
        seen += line.startswith(b"data:") and marker in line
    conn.sock.close()  # type: ignore[union-attr]
    conn.close()
    record = gateway.next_record()
    assert record.client_disconnected is True
    assert record.stream is True and record.model_group == group
    assert 4 <= record.usage.output_tokens < 50


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_deployment_gets_its_own_defaults(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, stream: bool
) -> None:
    """Deployment defaults do not leak: A (temperature 0.1) fails, fallback B (0.9) is sent 0.9."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("cold", "anthropic/claude-cold", upstream.url, temperature=0.1, top_k=3),
                deployment("warm", "anthropic/claude-warm", upstream.url, temperature=0.9),
            ],
            "router_settings": {"num_retries": 0, "fallbacks": [{"cold": ["warm"]}]},
        }
    )
    upstream.script_for("claude-cold", Fault(status=500))
    client = openai_client(gw)
    messages: list[dict[str, str]] = [{"role": "user", "content": "hi"}]
    if stream:
        chunks = client.chat.completions.create(model="cold", messages=messages, max_tokens=2, stream=True)  # type: ignore[arg-type]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        resp = client.chat.completions.create(model="cold", messages=messages, max_tokens=2)  # type: ignore[arg-type]
        text = resp.choices[0].message.content or ""
    assert text == "alpha bravo"
    sent = [r.body for r in upstream.requests if isinstance(r.body, dict)]
    assert [b["model"] for b in sent] == ["claude-cold", "claude-warm"]
    assert sent[0]["temperature"] == 0.1 and sent[0]["top_k"] == 3
    assert sent[1]["temperature"] == 0.9
    assert "top_k" not in sent[1]
