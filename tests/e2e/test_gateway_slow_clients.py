"""The gateway under slow clients (issue 12, item 6): official SDK calls, streams included, go on
while hundreds of connections dribble headers or bodies, and every one of those is cut off."""

from __future__ import annotations

import socket
from collections.abc import Callable

from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import standard_models
from support.http_server import wait_all_closed


def test_sdk_calls_are_served_while_slow_clients_are_cut_off(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """200 connections with half a header and 100 with a body announced but not sent: a streamed and
    a non-streamed OpenAI SDK call still succeed, and all 300 slow connections get closed."""
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {
                "server": {"header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5, "body_min_rate_kib": 1}
            },
        }
    )
    port = int(gateway.url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for i in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            if i % 3:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bear")
            else:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            slow.append(sock)
        client = openai_client(gateway)
        hi = [{"role": "user", "content": "hi"}]
        answer = client.chat.completions.create(model="gpt", messages=hi, max_tokens=2)
        assert answer.choices[0].message.content == "alpha bravo"
        stream = client.chat.completions.create(model="gpt", messages=hi, max_tokens=2, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "alpha bravo"
        wait_all_closed(slow)
    finally:
        for sock in slow:
            sock.close()
