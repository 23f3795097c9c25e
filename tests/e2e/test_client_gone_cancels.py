"""Issue 12, item 7 (second half): a client that gives up on a non-streamed call cancels the
upstream call, and the call is recorded as docs/operations.md says (status 499,
``client_disconnected``, the prompt's estimated input tokens and no output, ``usage_estimated``).

The upstream (support/hostile_upstream.BlockingApp) holds every call until released and sets an
event when the gateway closes the connection; nothing here waits on a sleep.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY
from support.hostile_upstream import BlockingApp, ServedApp

HELLO = [{"role": "user", "content": "hello there, this is a prompt of some length"}]
CALLS = {
    "openai": ("/v1/chat/completions", {"model": "slow", "messages": HELLO, "max_tokens": 5}),
    "anthropic": ("/v1/messages", {"model": "slow", "messages": HELLO, "max_tokens": 5}),
    "gemini": ("/v1beta/models/slow:generateContent", {"contents": [{"parts": [{"text": "hello there"}]}]}),
    "embeddings": ("/v1/embeddings", {"model": "slow", "input": "hello there"}),
}


@pytest.fixture
def blocking() -> Iterator[tuple[BlockingApp, str]]:
    app = BlockingApp()
    with ServedApp(app) as served:
        yield app, served.url
        app.release()


@pytest.mark.parametrize("surface", list(CALLS))
def test_client_hanging_up_cancels_the_upstream_call(
    start_gateway: Callable[..., RunningGateway], blocking: tuple[BlockingApp, str], surface: str
) -> None:
    app, url = blocking
    params = {
        "model": "openai/slow-model",
        "api_base": url + "/v1",
        "api_key": "sk-upstream-slow-0001",
        "input_cost_per_token": 0.001,
        "output_cost_per_token": 0.002,
    }
    gw = start_gateway(
        {
            "model_list": [{"model_name": "slow", "litellm_params": params}],
            "router_settings": {"num_retries": 0, "timeout": 600},
        }
    )
    path, body = CALLS[surface]
    raw = orjson.dumps(body)
    port = int(gw.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        assert app.received.wait(timeout=30), "the call never reached the upstream"
    # The client has gone: the gateway must hang up on the upstream, not wait for its answer.
    assert app.disconnected.wait(timeout=30), "the upstream call was not cancelled"
    assert not app.finished.is_set()
    record = gw.next_record()
    assert record.status == 499 and record.client_disconnected
    assert record.usage_estimated and record.usage.output_tokens == 0 and record.usage.input_tokens > 0
    assert record.cost_usd == pytest.approx(record.usage.input_tokens * 0.001)


def test_an_answer_that_comes_is_still_delivered(
    start_gateway: Callable[..., RunningGateway], blocking: tuple[BlockingApp, str]
) -> None:
    """The watch for a hang-up does not disturb a client that waits."""
    app, url = blocking
    params = {"model": "openai/slow-model", "api_base": url + "/v1", "api_key": "sk-upstream-slow-0001"}
    gw = start_gateway({"model_list": [{"model_name": "slow", "litellm_params": params}]})
    path, body = CALLS["openai"]
    raw = orjson.dumps(body)
    port = int(gw.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        assert app.received.wait(timeout=30)
        app.release()
        reply = b""
        while b"released" not in reply:
            chunk = client.recv(65536)
            assert chunk, reply
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    assert gw.next_record().status == 200
