"""What every management endpoint shares: the services, the guard around a handler, who acted.

A handler here is ``work(request, principal) -> JSON-able data``; :meth:`Management.handler`
wraps it into an ASGI ``handler(request, send)`` that authenticates, checks the caller is the
admin, renders any :class:`~bastion.domain.errors.BastionError` as OpenAI's ``{"error": {...}}``
body (LiteLLM's management API uses that shape) and sends the data with status 200. The work
itself is the administration services' (:mod:`bastion.administration`): a handler parses, calls
one service, renders.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bastion.administration import Administration, actor
from bastion.api.asgi import Request, Send, send_bytes, send_json
from bastion.auth.virtual_keys import key_name
from bastion.domain.errors import BastionError, InternalError, PermissionDeniedError
from bastion.domain.principal import Principal
from bastion.gateway.surfaces import OPENAI

__all__ = ["Authenticate", "Handler", "Management", "Work", "actor"]

_log = logging.getLogger("bastion.api.management")

Handler = Callable[[Request, Send], Awaitable[None]]
Authenticate = Callable[[Request], Awaitable[Principal]]
Work = Callable[[Request, Principal], Awaitable[Any]]

_ADMIN_ONLY = (
    "This endpoint needs the gateway's master key (general_settings.master_key). "
    "A virtual key may only read its own GET /key/info."
)


class Management:
    """The services, the authentication and the body limit every endpoint module works with."""

    def __init__(self, admin: Administration, authenticate: Authenticate, *, body_limit: int) -> None:
        self.admin = admin
        self._authenticate = authenticate
        self.body_limit = body_limit

    def handler(self, work: Work, *, admin_only: bool = True) -> Handler:
        """``work`` as an ASGI handler; ``admin_only=False`` leaves the permission check to ``work``."""

        async def handle(request: Request, send: Send) -> None:
            try:
                principal = await self._authenticate(request)
                if admin_only and not principal.is_admin:
                    raise PermissionDeniedError(_ADMIN_ONLY, code="admin_only")
                data = await work(request, principal)
            except BastionError as err:
                await _send_error(send, err)
                return
            except Exception:
                _log.exception("management endpoint %s %s failed", request.method, _loggable(request.path))
                await _send_error(send, InternalError("Bastion failed while handling this request."))
                return
            await send_json(send, 200, data)

        return handle

    async def body(self, request: Request, *, optional: bool = False) -> dict[str, Any]:
        """The JSON object sent; ``{}`` for an empty body when ``optional``."""
        return await request.json(self.body_limit, optional=optional)


def _loggable(path: str) -> str:
    """The path with any key in it (``/key/{key}/regenerate``) shown as ``sk-...abcd``."""
    return "/".join(key_name(part) if part.startswith("sk-") else part for part in path.split("/"))


async def _send_error(send: Send, err: BastionError) -> None:
    status, body, headers = OPENAI.render_error(err)
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    await send_bytes(send, status, body, headers=raw)
