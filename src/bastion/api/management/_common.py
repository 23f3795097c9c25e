"""What every management endpoint shares: the services, the body limit, who acted.

A handler here is ``work(request, principal) -> JSON-able data``; the route table runs the
audience's guard first (the master key, or any key for ``GET /key/info``), sends the data with
status 200 and renders any :class:`~bastion.domain.errors.BastionError` as OpenAI's
``{"error": {...}}`` body (LiteLLM's management API uses that shape). The work itself is the
administration services' (:mod:`bastion.administration`): a handler parses, calls one service,
renders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bastion.administration import Administration, actor
from bastion.api.asgi import Request, Send
from bastion.domain.principal import Principal

__all__ = ["Authenticate", "Handler", "Management", "Work", "actor"]

Handler = Callable[[Request, Send], Awaitable[None]]
Authenticate = Callable[[Request], Awaitable[Principal]]
Work = Callable[[Request, Principal], Awaitable[Any]]


class Management:
    """The services and the body limit every endpoint module works with."""

    def __init__(self, admin: Administration, *, body_limit: int) -> None:
        self.admin = admin
        self.body_limit = body_limit

    async def body(self, request: Request, *, optional: bool = False) -> dict[str, Any]:
        """The JSON object sent; ``{}`` for an empty body when ``optional``."""
        return await request.json(self.body_limit, optional=optional)
