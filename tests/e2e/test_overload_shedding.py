"""Overload sheds instead of queueing: with its one slot taken, a gateway answers every other call
at once with 503 and retry-after in the caller's own format; health, readiness and metrics still
answer. Deterministic: the slot is held by a stream still in progress, not by timing."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest

from bastion import tasks
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


class Client:
    """Plain HTTP/1.1 calls to the gateway on a connection of their own."""

    def __init__(self, url: str) -> None:
        self._address = urlsplit(url).netloc

    def open(self, method: str, path: str, body: Any, headers: dict[str, str]) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self._address, timeout=30)
        payload = None if body is None else json.dumps(body)
        connection.request(
            method, path, body=payload, headers={"content-type": "application/json", **headers}
        )
        return connection.getresponse()

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        response = self.open(method, path, body, headers or {})
        return Answer(response.status, dict(response.getheaders()), response.read())


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def full_gateway(start_gateway: Callable[..., RunningGateway]) -> Iterator[tuple[RunningGateway, Client]]:
    """A gateway allowed one call at a time, with that call in progress (a stream whose upstream
    sends a token a second)."""
    with MockUpstream(token_delay=1.0) as held:
        gateway = start_gateway(
            {
                "model_list": standard_models(held.url),
                "bastion_settings": {"overload": {"max_in_flight": 1}, "browser": {"models": ["gpt"]}},
            }
        )
        client = Client(gateway.url)
        slow = {**CHAT, "stream": True, "max_tokens": 100}  # a token a second: 100 s
        held_call = client.open("POST", "/v1/chat/completions", slow, AUTH)
        assert held_call.status == 200  # the first token is out: the call holds the slot
        yield gateway, client
        held_call.close()


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "family", "read"),
    [
        ("POST", "/v1/chat/completions", CHAT, AUTH, "openai", lambda b: b["error"]["type"]),
        (
            "POST",
            "/v1/messages",
            {**CHAT, "model": "claude"},
            {**AUTH, "anthropic-version": "2023-06-01"},
            "anthropic",
            lambda b: b["error"]["type"],
        ),
        (
            "POST",
            "/v1beta/models/gemini:generateContent",
            {"contents": [{"parts": [{"text": "hi"}]}]},
            AUTH,
            "gemini",
            lambda b: b["error"]["status"],
        ),
        ("POST", "/api/openai", CHAT, AUTH, "tokenstream", lambda b: b["error"]["type"]),
        ("GET", "/key/list", None, AUTH, "management", lambda b: b["error"]["type"]),
        ("GET", "/v2/users/me", None, {}, "account", lambda b: b["code"]),
    ],
)
def test_a_call_over_capacity_is_a_503_with_retry_after_in_its_format(
    full_gateway: tuple[RunningGateway, Client],
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    family: str,
    read: Callable[[Any], str],
) -> None:
    gateway, client = full_gateway
    answer = client.request(method, path, body, headers)
    assert answer.status == 503
    assert answer.headers["retry-after"] == "1"
    kind = read(answer.json())
    assert kind in {"service_unavailable", "overloaded_error", "UNAVAILABLE", "overloaded"}
    metrics = gateway.metrics.render().decode()
    assert f'bastion_requests_shed_total{{family="{family}",reason="in_flight"}} 1.0' in metrics


def test_health_readiness_and_metrics_are_never_shed(
    full_gateway: tuple[RunningGateway, Client],
) -> None:
    _, client = full_gateway
    for path in ("/health/liveliness", "/health/readiness", "/metrics"):
        assert client.request("GET", path).status == 200, path


def test_the_openai_sdk_reads_it_as_a_retryable_overload(
    full_gateway: tuple[RunningGateway, Client],
) -> None:
    """The SDK's own error class for a 503, with the gateway's message (max_retries=0: no waiting)."""
    gateway, _ = full_gateway
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503 and "over capacity" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "1"  # the SDK waits that long when it retries


def test_event_loop_lag_sheds_new_calls_under_the_gateways_own_server(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """On Bastion's HTTP server the lag sampler runs as a supervised service started by the
    lifespan, and while the loop is held by a call in progress (each turn blocked, as by CPU-bound
    handlers) a new call is refused with 503 in its format. Deterministic: the call is sent once
    shedding has started, and the loop is held until it is answered. (An idle process takes no
    samples: the holder counts as a call in progress, as a CPU-bound handler's call would.)"""
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"overload": {"max_event_loop_lag_ms": 20}},
        }
    )
    assert gateway.app is not None
    overload = gateway.app.overload
    shedding, answered = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    async def hold_the_loop() -> None:
        seen.append(tasks.current().running())
        assert overload.try_enter("openai") is None  # the CPU-bound call in progress
        try:
            for _ in range(300):  # 60 ms a turn: every 10 ms sample is at least 50 ms late
                time.sleep(0.06)  # noqa: ASYNC251  # the load itself: a turn held, as CPU-bound work would
                await asyncio.sleep(0)
                if overload.shedding:
                    shedding.set()
                if answered.is_set():
                    return
        finally:
            overload.leave()

    holder = threading.Thread(target=gateway.call, args=(hold_the_loop(),))
    holder.start()
    try:
        assert shedding.wait(timeout=60), "the lag sampler never saw the loop late"
        answer = Client(gateway.url).request("POST", "/v1/chat/completions", CHAT, AUTH)
    finally:
        answered.set()
        holder.join()
    assert {"lifespan", "overload-watch"} <= set(seen[0])
    assert answer.status == 503 and answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "overloaded"
    metrics = gateway.metrics.render().decode()
    assert 'bastion_requests_shed_total{family="openai",reason="event_loop_lag"} 1.0' in metrics
