"""Balance and heal: failing deployments cool down and come back; the faster deployment is preferred."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import deployment
from support.backends import REDIS, require

MESSAGES = [{"role": "user", "content": "hi"}]


def pair(url: str, first: str, second: str, **params: Any) -> list[dict[str, Any]]:
    return [
        deployment("pair", f"openai/{first}", url + "/v1", **params.get(first, {})),
        deployment("pair", f"openai/{second}", url + "/v1", **params.get(second, {})),
    ]


def served_by(upstream: MockUpstream) -> list[str]:
    return [r.body["model"] for r in upstream.requests]


def call(gw: RunningGateway, times: int = 1) -> None:
    client = openai_client(gw)
    for _ in range(times):
        client.chat.completions.create(model="pair", messages=MESSAGES, max_tokens=2)


def test_a_failing_deployment_cools_down_and_comes_back(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """allowed_fails 1: after two failures 'flaky' is skipped; after cooldown_time it serves again."""
    gw = start_gateway(
        {
            "model_list": pair(upstream.url, "flaky", "steady", flaky={"order": 1}, steady={"order": 2}),
            "router_settings": {"num_retries": 1, "allowed_fails": 1, "cooldown_time": 0.5},
        }
    )
    now = [1000.0]
    gw.app.router.health.clock = lambda: now[0]  # the test moves time, rather than waiting for it
    upstream.script_for("flaky", Fault(status=500), Fault(status=500))
    call(gw, 2)  # each: flaky fails, steady answers
    assert served_by(upstream) == ["flaky", "steady", "flaky", "steady"]
    call(gw, 3)  # flaky is cooling down: straight to steady
    assert served_by(upstream)[4:] == ["steady"] * 3
    page = gw.metrics.render().decode()
    assert re.search(
        r'bastion_deployment_cooldowns_total\{deployment="[^"]+",model_group="pair"\} 1\.0', page
    )
    now[0] += 0.4  # still cooling
    call(gw)
    assert served_by(upstream)[-1] == "steady"
    now[0] += 0.2  # the cooldown is over: flaky (order 1, healthy again) is tried first again
    call(gw)
    assert served_by(upstream)[-1] == "flaky"


def test_every_deployment_cooling_falls_back(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """A group whose only deployment is cooling down sends the request to its fallback group."""
    gw = start_gateway(
        {
            "model_list": [
                deployment("pair", "openai/down", upstream.url + "/v1"),
                deployment("spare", "openai/spare", upstream.url + "/v1"),
            ],
            "router_settings": {
                "num_retries": 0,
                "allowed_fails": 0,
                "cooldown_time": 60,
                "fallbacks": [{"pair": ["spare"]}],
            },
        }
    )
    upstream.script_for("down", Fault(status=503))
    call(gw)  # down fails (and cools), spare answers
    call(gw)  # down is cooling: spare only
    assert served_by(upstream) == ["down", "spare", "spare"]


def test_latency_based_routing_prefers_the_faster_deployment(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gw = start_gateway(
        {
            "model_list": pair(upstream.url, "slow", "fast"),
            "router_settings": {"num_retries": 0, "routing_strategy": "latency-based-routing"},
        }
    )
    upstream.script_for("slow", *[Fault(delay=0.3) for _ in range(20)])
    call(gw, 2)  # each is measured once (unmeasured deployments go first)
    assert sorted(served_by(upstream)) == ["fast", "slow"]
    call(gw, 10)
    assert served_by(upstream)[2:] == ["fast"] * 10


def test_usage_based_routing_spreads_by_rpm(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """rpm 3 and rpm 1: the first four calls fill both to the same share, then the larger takes more."""
    gw = start_gateway(
        {
            "model_list": pair(upstream.url, "big", "small", big={"rpm": 3}, small={"rpm": 1}),
            "router_settings": {"num_retries": 0, "routing_strategy": "usage-based-routing"},
        }
    )
    call(gw, 4)
    assert Counter(served_by(upstream)) == {"big": 3, "small": 1}


def test_cooldowns_are_shared_through_redis(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """A deployment cooled down by one gateway is skipped by another sharing Redis."""
    require(6379, "Redis")
    tag = secrets.token_hex(4)
    config = {
        "model_list": [
            deployment("pair", "openai/flaky", upstream.url + "/v1", order=1)
            | {"model_info": {"id": f"f-{tag}"}},
            deployment("pair", "openai/steady", upstream.url + "/v1", order=2)
            | {"model_info": {"id": f"s-{tag}"}},
        ],
        "router_settings": {"num_retries": 1, "allowed_fails": 0, "cooldown_time": 60},
        "bastion_settings": {"redis_url": REDIS},
    }
    first, second = start_gateway(dict(config)), start_gateway(dict(config))
    upstream.script_for("flaky", Fault(status=500))
    call(first)  # flaky fails once: cooled down (allowed_fails 0), steady answers
    assert served_by(upstream) == ["flaky", "steady"]
    assert first.app is not None and first.app.shared_health is not None
    first.call(first.app.shared_health.settled())
    assert second.app is not None and second.app.shared_health is not None
    second.call(second.app.shared_health.sync_once())
    call(second)
    assert served_by(upstream)[2:] == ["steady"]


def test_usage_is_shared_through_redis(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """usage-based-routing: a deployment used through one gateway counts as used on the other."""
    require(6379, "Redis")
    tag = secrets.token_hex(4)
    config = {
        "model_list": [
            deployment("pair", "openai/one", upstream.url + "/v1", rpm=10)
            | {"model_info": {"id": f"a-{tag}"}},
            deployment("pair", "openai/two", upstream.url + "/v1", rpm=10)
            | {"model_info": {"id": f"b-{tag}"}},
        ],
        "router_settings": {"num_retries": 0, "routing_strategy": "usage-based-routing"},
        "bastion_settings": {"redis_url": REDIS},
    }
    first, second = start_gateway(dict(config)), start_gateway(dict(config))
    call(first)
    used = served_by(upstream)[0]
    assert first.app is not None and first.app.shared_health is not None
    first.call(first.app.shared_health.settled())
    assert second.app is not None and second.app.shared_health is not None
    second.call(second.app.shared_health.sync_once())
    call(second)  # the other deployment: this one already has a request this minute
    assert served_by(upstream)[1] != used
