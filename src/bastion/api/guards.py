"""The guard of each audience: one function per kind of caller, run by the dispatcher.

A guard reads the request's credential and returns who is calling (the handler reads it as
``request.caller``) or raises a 401/403 :class:`~bastion.domain.errors.BastionError` that the
dispatcher writes in the endpoint's error format. The routers name an audience for each endpoint;
the API that owns an audience provides its guard (see ``guards()`` on the routers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bastion.api.asgi import Request
from bastion.domain.errors import PermissionDeniedError
from bastion.domain.principal import Principal

__all__ = ["ADMIN_ONLY", "bearer_token", "master_guard", "superuser_guard"]

ADMIN_ONLY = (
    "This endpoint needs the gateway's master key (general_settings.master_key). "
    "A virtual key may only read its own GET /key/info."
)


def master_guard(
    authenticate: Callable[[Request], Awaitable[Principal]],
) -> Callable[[Request], Awaitable[Principal]]:
    """The caller's key must be the master key (or another admin principal)."""

    async def guard(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.is_admin:
            raise PermissionDeniedError(ADMIN_ONLY, code="admin_only")
        return principal

    return guard


def superuser_guard(user_guard: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]:
    """A logged-in account that is a superuser."""

    async def guard(request: Request) -> Any:
        user = await user_guard(request)
        if not user.is_superuser:
            raise PermissionDeniedError("This needs a superuser account.", code="not_superuser")
        return user

    return guard


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, if one was sent."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None
