"""A request of Bastion's own server (``RequestCycle``) whose body was read whole, without a
socket: for tests of what a handler does while its answer is computed or streamed, and of the
client hanging up meanwhile."""

from __future__ import annotations

import asyncio

from bastion.server._cycle import RequestCycle

__all__ = ["hang_up", "read_request"]


class _Conn:
    """What a RequestCycle needs of its connection while nothing is written through it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()


def read_request(path: str = "/v1/chat/completions") -> RequestCycle:
    """A POST to ``path`` whose body was read whole, as a handler does before the call."""
    scope = {"type": "http", "method": "POST", "http_version": "1.1", "path": path}
    cycle = RequestCycle(_Conn(), scope, keep_alive=True, expect_continue=False)  # type: ignore[arg-type]
    cycle.more_body = False
    cycle._final_sent = True
    return cycle


def hang_up(cycle: RequestCycle) -> None:
    """The client disconnects, as ``connection_lost`` tells the request."""
    cycle.disconnected = True
    cycle.wake()
