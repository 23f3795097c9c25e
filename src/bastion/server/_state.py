"""What every connection of one server shares: the app, the limits, and the open connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.server._protocol import HttpProtocol

__all__ = ["App", "Limits", "ServerState"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("bastion.server")


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits and timeouts in force, in seconds and bytes: ``ServerSettings`` (which holds the
    defaults) as :func:`bastion.server.server.limits_from` reads it."""

    header_timeout: float
    body_timeout: float
    body_min_rate: float
    keepalive_timeout: float
    send_timeout: float
    max_header_bytes: int
    max_connections: int


@dataclass(eq=False, slots=True)
class ServerState:
    """Shared by the connections of one server (one event loop)."""

    app: App
    limits: Limits
    connections: set[HttpProtocol] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: Set once shutdown starts: no keep-alive from then on.
    draining: bool = False
    #: Set when the last connection closes while draining.
    drained: asyncio.Event | None = None
    #: Connections turned away because ``max_connections`` were open (for the logs and tests).
    refused: int = 0

    def forget(self, connection: HttpProtocol) -> None:
        self.connections.discard(connection)
        if self.draining and not self.connections and self.drained is not None:
            self.drained.set()
