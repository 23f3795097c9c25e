"""Usage records, metrics, health, and the rule that no key ever shows up in a response or a log."""

from __future__ import annotations

import urllib.request

import anthropic
import openai
import pytest
from google.genai import types as genai_types
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, STATIC_KEY, UPSTREAM_KEY


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url) as resp:
        return resp.status, resp.read()


def test_health_endpoints(gateway: RunningGateway) -> None:
    """Liveliness and readiness answer without a key, as LiteLLM's do."""
    assert get(gateway.url + "/health/liveliness") == (200, b'"I\'m alive!"')
    status, body = get(gateway.url + "/health/readiness")
    assert status == 200 and b'"status":"healthy"' in body and b'"db":"connected"' in body


def test_one_usage_record_per_request_with_cost(gateway: RunningGateway) -> None:
    """A priced model's call yields one record with tokens, provider, deployment, latency and cost."""
    openai_client(gateway).chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hello"}], max_tokens=4, user="end-user-7"
    )
    records = gateway.request_records()
    assert len(records) == 1
    record = records[0]
    assert record["model_group"] == "claude" and record["provider"] == "anthropic"
    assert record["upstream_model"] == "claude-sonnet-4-5" and record["deployment"]
    assert record["output_tokens"] == 4 and record["input_tokens"] >= 1
    assert record["end_user"] == "end-user-7"
    # claude-sonnet-4-5: $3 / $15 per million input / output tokens (genai-prices data).
    expected = record["input_tokens"] * 3e-6 + 4 * 15e-6  # type: ignore[operator]
    assert record["cost_usd"] == pytest.approx(expected)
    assert record["latency_ms"] > 0 and record["status"] == 200


def test_streamed_record_has_time_to_first_token(gateway: RunningGateway) -> None:
    """A streamed call records its usage (as the provider reported it) and its time to first token."""
    with anthropic_client(gateway).messages.stream(
        model="gpt", max_tokens=3, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        stream.until_done()
    record = gateway.request_records()[-1]
    assert record["stream"] is True and record["output_tokens"] == 3 and record["usage_estimated"] is False
    assert record["ttft_ms"] is not None and record["ttft_ms"] <= record["latency_ms"]  # type: ignore[operator]


def test_model_info_prices_override_the_data(start_gateway, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    """input_cost_per_token / output_cost_per_token in model_info win over genai-prices."""
    gw = start_gateway(
        {
            "model_list": [
                {
                    "model_name": "priced",
                    "litellm_params": {
                        "model": "openai/house-model",
                        "api_base": upstream.url + "/v1",
                        "api_key": "x",
                    },
                    "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
                }
            ]
        }
    )
    openai_client(gw).chat.completions.create(
        model="priced", messages=[{"role": "user", "content": "a b c"}], max_tokens=5
    )
    record = gw.request_records()[-1]
    assert record["cost_usd"] == pytest.approx(record["input_tokens"] * 0.001 + 5 * 0.002)  # type: ignore[operator]


def test_mock_deployments_are_free_unless_priced(start_gateway) -> None:  # type: ignore[no-untyped-def]
    """The built-in mock costs nothing, but model_info prices apply to it (billing demos)."""
    gw = start_gateway(
        {
            "model_list": [
                {"model_name": "free", "litellm_params": {"model": "mock/echo"}},
                {
                    "model_name": "priced",
                    "litellm_params": {"model": "mock/echo"},
                    "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
                },
            ]
        }
    )
    for group in ("free", "priced"):
        openai_client(gw).chat.completions.create(model=group, messages=[{"role": "user", "content": "a b"}])
    free, priced = gw.request_records()[-2:]
    assert free["cost_usd"] == 0.0
    expected = priced["input_tokens"] * 0.001 + priced["output_tokens"] * 0.002  # type: ignore[operator]
    assert priced["cost_usd"] == pytest.approx(expected) and expected > 0


def test_metrics_count_requests_tokens_errors_and_retries(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """/metrics reflects a scripted mix of successes, a retry and a client error."""
    client = openai_client(gateway)
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    upstream.script(Fault(status=500, retry_after=0.01))
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "hi"}])
    status, body = get(gateway.url + "/metrics")
    text = body.decode()
    assert status == 200
    assert (
        'bastion_requests_total{model_group="gpt",provider="openai",status="200",surface="openai"} 2.0'
        in text
    )
    assert 'bastion_request_errors_total{kind="not_found",model_group="none",surface="openai"} 1.0' in text
    assert 'bastion_retries_total{model_group="gpt"} 1.0' in text
    assert 'bastion_tokens_total{kind="output",model_group="gpt",provider="openai"} 4.0' in text
    assert "missing" not in text  # unknown names are unbounded: never a label
    assert MASTER_KEY not in text and UPSTREAM_KEY not in text


def test_no_key_in_logs_or_responses(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """Scan every response body and log line of a varied session for every key in play."""
    bodies: list[str] = []
    oc = openai_client(gateway)
    bodies.append(
        oc.chat.completions.with_raw_response.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        ).text
    )
    upstream.script(Fault(status=401, message="bad credentials"))
    with pytest.raises(anthropic.AuthenticationError) as info:
        anthropic_client(gateway).messages.create(
            model="claude", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
    bodies.append(info.value.response.text)
    with pytest.raises(openai.AuthenticationError) as bad:
        openai_client(gateway, key="sk-not-a-real-key-000000").chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "x"}]
        )
    bodies.append(bad.value.response.text)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        openai_client(gateway, key=STATIC_KEY).chat.completions.create(model="claude", messages=[])
    bodies.append(denied.value.response.text)
    client = genai_client(gateway)
    client.models.generate_content(
        model="gemini", contents="hi", config=genai_types.GenerateContentConfig(max_output_tokens=1)
    )
    logs = gateway.log_text()
    assert logs.count('"event":"request"') == 5
    for secret in (MASTER_KEY, UPSTREAM_KEY, STATIC_KEY, "sk-not-a-real-key-000000"):
        assert secret not in logs
        for body in bodies:
            assert secret not in body
