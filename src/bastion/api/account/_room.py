"""What every ``/v2`` handler shares: the services, authentication by access token, the error body.

A handler is ``work(request, user, params) -> (status, JSON-able data)``; :meth:`Room.handler`
wraps it into an ASGI handler that authenticates the caller (``anonymous``, ``user`` or
``superuser`` routes), and renders any :class:`~bastion.domain.errors.BastionError` as
``{"detail": message, "code": code}`` (the shape FastAPI apps, where the seeds come from, use),
with ``WWW-Authenticate: Bearer`` on 401 and ``Retry-After`` on 429.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bastion.accounts.catalog import ModelCatalog
from bastion.accounts.conversations import ConversationService
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.accounts.records import UserRecord
from bastion.accounts.usage import UsageService
from bastion.accounts.users import AccountService
from bastion.api.asgi import Request, Send, send_json
from bastion.domain.errors import (
    AuthenticationError,
    BastionError,
    InternalError,
    InvalidRequestError,
    PermissionDeniedError,
)

__all__ = ["AccountServices", "Handler", "Room", "Work", "int_query", "send_error"]

_log = logging.getLogger("bastion.api.account")

Handler = Callable[[Request, Send], Awaitable[None]]
Params = Mapping[str, str]
#: ``user`` is None only on anonymous routes.
Work = Callable[[Request, Any, Params], Awaitable[tuple[int, Any] | None]]


@dataclass(frozen=True, slots=True)
class AccountServices:
    accounts: AccountService
    keys: ProviderKeyService
    catalog: ModelCatalog
    conversations: ConversationService
    usage: UsageService
    user_keys_mode: str
    body_limit: int
    keepalive_seconds: float = 15.0


class Room:
    def __init__(self, services: AccountServices) -> None:
        self.s = services

    def handler(self, work: Work, audience: str, params: Params | None = None) -> Handler:
        fixed = params or {}

        async def handle(request: Request, send: Send) -> None:
            try:
                user = None
                if audience != "anonymous":
                    user = await self.s.accounts.authenticate(_bearer(request))
                    if audience == "superuser" and not user.is_superuser:
                        raise PermissionDeniedError("This needs a superuser account.", code="not_superuser")
                answer = await work(request, user, fixed)
            except BastionError as err:
                await send_error(send, err)
                return
            except Exception:
                _log.exception("account endpoint %s %s failed", request.method, audience)
                await send_error(send, InternalError("Bastion failed while handling this request."))
                return
            if answer is not None:  # None: the work sent its own response (a stream)
                status, data = answer
                await send_json(send, status, data)

        return handle

    async def body(self, request: Request) -> dict[str, Any]:
        return await request.json(self.s.body_limit)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def int_query(request: Request, name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    # isdigit() alone takes "²" and other digits int() cannot read.
    if not (value.isascii() and value.isdigit()) or len(value) > 12 or not low <= int(value) <= high:
        raise InvalidRequestError(f"'{name}' must be a whole number from {low} to {high}.", param=name)
    return int(value)


async def send_error(send: Send, err: BastionError) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(err, AuthenticationError):
        headers.append((b"www-authenticate", b"Bearer"))
    if err.retry_after is not None:
        headers.append((b"retry-after", str(max(math.ceil(err.retry_after), 1)).encode()))
    body: dict[str, Any] = {"detail": err.message, "code": err.code or err.kind}
    if err.param:
        body["param"] = err.param
    await send_json(send, err.status, body, headers=headers)


def user_view(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "email": user.user_email,
        "full_name": user.full_name,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }
