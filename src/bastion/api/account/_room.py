"""What every ``/v2`` handler shares: the services, authentication by access token, the error body.

A handler is ``work(request, user, params) -> (status, JSON-able data)``; the route table runs the
audience's guard first (``anonymous``, ``user`` or ``superuser`` routes, see ``ROUTES``) and
renders any :class:`~bastion.domain.errors.BastionError` in this API's format
(``ACCOUNT_ERRORS`` in :mod:`bastion.api.account`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bastion.accounts.catalog import ModelCatalog
from bastion.accounts.conversations import ConversationService
from bastion.accounts.provider_keys import ProviderKeyService
from bastion.accounts.records import UserRecord
from bastion.accounts.usage import UsageService
from bastion.accounts.users import AccountService
from bastion.api.asgi import Request, Send
from bastion.domain.errors import (
    InvalidRequestError,
)

__all__ = ["AccountServices", "Handler", "Room", "Work", "int_query"]

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
    #: A user's plan and the quota left (``GET /v1/usage/me``'s answer); None: no plans.
    plan_usage: Callable[[str], Awaitable[dict[str, Any]]] | None = None


class Room:
    def __init__(self, services: AccountServices) -> None:
        self.s = services

    async def body(self, request: Request) -> dict[str, Any]:
        return await request.json(self.s.body_limit)


def int_query(request: Request, name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    # isdigit() alone takes "²" and other digits int() cannot read.
    if not (value.isascii() and value.isdigit()) or len(value) > 12 or not low <= int(value) <= high:
        raise InvalidRequestError(f"'{name}' must be a whole number from {low} to {high}.", param=name)
    return int(value)


def user_view(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "email": user.user_email,
        "full_name": user.full_name,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }
