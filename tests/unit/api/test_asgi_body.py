"""Reading a request body: a body cut short by a disconnect is an error, never a shorter request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError


def _request(*messages: dict[str, Any]) -> Request:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    return Request(scope, receive)


def test_a_body_in_pieces_is_joined() -> None:
    """Pieces of a body arrive as one bytes object."""
    request = _request(
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
    )
    assert asyncio.run(request.json(1000)) == {"a": 1}


def test_a_disconnect_before_the_end_of_the_body_is_an_error() -> None:
    """``{}`` followed by a disconnect (more was announced) is not taken as the request ``{}``."""
    request = _request(
        {"type": "http.request", "body": b"{}", "more_body": True},
        {"type": "http.disconnect"},
    )
    with pytest.raises(InvalidRequestError, match="before sending the whole body"):
        asyncio.run(request.json(1000))
