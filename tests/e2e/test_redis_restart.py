"""Gateways on a Redis of the test's own: two connections each (one for commands, one for pub/sub,
whatever uses Redis), and every Redis user recovers when that Redis restarts mid-use.

The users: rate limits and budgets, the revocation markers and notices, the login throttle,
shared deployment health, and the response cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from test_key_api import post
from test_sdk_passthrough import openai_client

from bastion.settings import Settings
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import standard_models
from support.dashboard import Browser
from support.private_servers import PrivateRedis
from support.serve import ServeProcess

MESSAGES = [{"role": "user", "content": "hello there"}]


def chat(gw: RunningGateway, key: str) -> str:
    """One call; whether the cache answered it."""
    raw = openai_client(gw, key).chat.completions.with_raw_response.create(
        model="gpt", messages=MESSAGES, max_tokens=5
    )
    return raw.headers["x-bastion-cache"]


def failed_login(gw: RunningGateway) -> int:
    return Browser(gw.url).log_in(master_key="sk-guess-0000000000").status


def share_cooldown(source: RunningGateway, sink: RunningGateway, deployment: str) -> bool:
    """``source`` cools ``deployment`` down; whether ``sink`` sees it after one sync."""
    assert source.app is not None and source.app.shared_health is not None
    assert sink.app is not None and sink.app.shared_health is not None
    shared = source.app.shared_health

    async def announce() -> None:  # on the gateway's own event loop, like a failed call would
        shared.announce(deployment, 60)
        await shared.settled()

    source.call(announce())
    sink.call(sink.app.shared_health.sync_once())
    return sink.app.router.health.cooling(deployment)


def connections(server: PrivateRedis) -> list[tuple[str, bool]]:
    """Every connection to the server: its name and whether it is subscribed."""
    return sorted((c["name"], c["sub"] != "0") for c in server.clients())


def wait_for(condition: Callable[[], bool], *, seconds: float) -> None:
    """Poll ``condition`` (each poll is a round trip to a server) until it holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"


def test_two_connections_per_gateway_and_every_user_recovers_after_a_redis_restart(
    tmp_path: Path, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    (tmp_path / "redis").mkdir()
    with PrivateRedis(tmp_path / "redis") as server:
        config: dict[str, Any] = {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "litellm_settings": {"cache": True},  # on the gateway's Redis (no cache_params)
            "bastion_settings": {"redis_url": server.url},
        }
        first, second = start_gateway(dict(config)), start_gateway(dict(config))
        ids = {dep.model_name: dep.deployment_id for dep in first.settings.model_list}
        limited = {"rpm_limit": 1000, "max_parallel_requests": 10, "max_budget": 5}
        key, other_key = (post(first, "/key/generate", limited)["key"] for _ in range(2))

        assert chat(second, key) == "miss"
        second.settle()
        assert chat(second, key) == "hit"
        assert failed_login(first) == 401
        assert share_cooldown(first, second, ids["claude"])
        # Both gateways in this test process: each holds one command and one pub/sub connection.
        name = f"bastion-{os.getpid()}"
        both = [(name, False), (name, False), (f"{name}-pubsub", True), (f"{name}-pubsub", True)]
        assert connections(server) == both

        server.restart()  # every connection is closed; the new server knows no key, script or channel

        wait_for(lambda: connections(server).count((f"{name}-pubsub", True)) == 2, seconds=10)
        assert chat(second, key) == "miss"  # limits (scripts loaded again) and the cache answer
        # Revocation notices flow again: a key deleted through one gateway is refused by the other
        # at once (its key cache would keep the key 5 s without the notice).
        assert post(first, "/key/delete", {"keys": [key]})["deleted_keys"] == [key]
        deadline = time.monotonic() + 1.0
        with pytest.raises(openai.AuthenticationError):
            while time.monotonic() < deadline:
                chat(second, key)
        assert chat(second, other_key) == "miss"
        second.settle()
        assert chat(second, other_key) == "hit"
        assert failed_login(first) == 401  # counted in Redis again, not 503
        assert share_cooldown(first, second, ids["gemini"])
        assert connections(server) == both


def test_a_served_process_holds_two_connections_to_its_redis(
    tmp_path: Path, write_config: Callable[[dict[str, Any]], Settings], upstream: MockUpstream
) -> None:
    """``bastion serve`` with limits, cache, shared health and the login throttle on one Redis:
    one command connection and one pub/sub connection, both named after the process."""
    (tmp_path / "redis").mkdir()
    with PrivateRedis(tmp_path / "redis") as server:
        settings = write_config(
            {
                "model_list": standard_models(upstream.url),
                "litellm_settings": {"cache": True},
                "bastion_settings": {"redis_url": server.url},
            }
        )
        process = ServeProcess(settings.source)
        process.start()
        try:
            served = SimpleNamespace(url=process.url)
            key = post(served, "/key/generate", {"rpm_limit": 100, "max_budget": 5})["key"]
            assert chat(served, key) == "miss"
            assert failed_login(served) == 401
            names = sorted(name for name, _ in connections(server))
            assert len(names) == 2 and names[1] == f"{names[0]}-pubsub", names
            assert names[0] != f"bastion-{os.getpid()}" and names[0].startswith("bastion-")
            assert connections(server) == [(names[0], False), (names[1], True)]
        finally:
            process.terminate()
            assert process.wait() == 0, process.log()
