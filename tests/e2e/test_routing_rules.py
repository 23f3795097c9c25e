"""Routing rules send a requested model group elsewhere; the dry run says where a request would go."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from test_sdk_passthrough import openai_client

from bastion.accounting.spend_rows import spend_row
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, deployment

LONG = "word " * 400  # about 500 estimated tokens


def models(url: str) -> list[dict[str, Any]]:
    return [
        deployment("big", "openai/gpt-big", url + "/v1"),
        deployment("small", "openai/gpt-small", url + "/v1") | {"model_info": {"max_input_tokens": 100}},
        deployment("tools", "openai/gpt-tools", url + "/v1"),
        deployment("huge", "openai/gpt-huge", url + "/v1"),
    ]


@pytest.fixture
def routed(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    return start_gateway(
        {
            "model_list": models(upstream.url),
            "router_settings": {"num_retries": 0, "context_window_fallbacks": [{"small": ["huge"]}]},
            "bastion_settings": {
                "static_keys": [{"key": STATIC_KEY}],
                "routes": [
                    {"name": "with-tools", "model": "big", "to": "tools", "when": {"tools": True}},
                    {"name": "cheap-header", "to": "small", "when": {"header": {"x-tier": "cheap"}}},
                    {"name": "short", "model": "big", "to": "small", "when": {"prompt_tokens_below": 50}},
                ],
            },
        }
    )


def dry_run(gw: RunningGateway, body: dict[str, Any], key: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        gw.url + "/routing/dry-run",
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def ask(gw: RunningGateway, content: str, **extra: Any) -> tuple[str | None, str | None, str]:
    raw = openai_client(gw).chat.completions.with_raw_response.create(
        model=extra.pop("model", "big"),
        messages=[{"role": "user", "content": content}],
        max_tokens=3,
        **extra,
    )
    raw.parse()
    return raw.headers.get("x-bastion-route"), raw.headers.get("x-bastion-model-group"), ""


def test_short_prompts_go_to_the_small_group(routed: RunningGateway, upstream: MockUpstream) -> None:
    """First match wins: a short prompt is routed to 'small', a long one stays on 'big'."""
    assert ask(routed, "hi")[:2] == ("short", "small")
    assert upstream.requests[-1].body["model"] == "gpt-small"
    assert ask(routed, LONG)[:2] == (None, "big")
    assert upstream.requests[-1].body["model"] == "gpt-big"


def test_the_rule_is_recorded_in_the_spend_log(routed: RunningGateway) -> None:
    ask(routed, "hi")
    record = routed.next_record()
    assert record.model_group == "small" and record.route_rule == "short" and record.routed_from == "big"
    assert spend_row(record)["metadata"]["route"] == "short"
    assert spend_row(record)["metadata"]["routed_from"] == "big"


def test_tools_and_headers_choose_rules(routed: RunningGateway, upstream: MockUpstream) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    assert ask(routed, "hi", tools=[tool])[:2] == ("with-tools", "tools")
    assert ask(routed, "hi", extra_headers={"X-Tier": "cheap"})[:2] == ("cheap-header", "small")


def test_context_window_fallback_picks_a_larger_group(routed: RunningGateway, upstream: MockUpstream) -> None:
    """'small' takes at most 100 tokens: a long prompt sent to it goes to 'huge'."""
    assert ask(routed, LONG, model="small")[:2] == ("context_window_fallback", "huge")
    assert upstream.requests[-1].body["model"] == "gpt-huge"
    # A header rule into 'small' with a long prompt also ends up on 'huge'.
    routed_twice = ask(routed, LONG, extra_headers={"x-tier": "cheap"})[:2]
    assert routed_twice == ("cheap-header+context_window_fallback", "huge")


def test_dry_run_says_where_a_request_would_go(routed: RunningGateway, upstream: MockUpstream) -> None:
    body = {"model": "big", "messages": [{"role": "user", "content": "hi"}], "headers": {"X-Tier": "cheap"}}
    status, answer = dry_run(routed, body, MASTER_KEY)
    assert status == 200
    assert answer["model_group"] == "small" and answer["rule"] == "cheap-header"
    assert [d["model"] for d in answer["deployments"]] == ["openai/gpt-small"]
    assert upstream.requests == []  # nothing was sent
    status, denied = dry_run(routed, body, STATIC_KEY)
    assert status == 403 and "master key" in denied["error"]["message"]
