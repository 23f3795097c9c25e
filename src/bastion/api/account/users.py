"""``/v2/users/me`` for everyone logged in; ``/v2/users/`` create, list, read, update, deactivate for
superusers."""

from __future__ import annotations

from typing import Any

from bastion.accounts.records import UserRecord
from bastion.api.account._room import Room, int_query, user_view
from bastion.api.asgi import Request
from bastion.domain.errors import InvalidRequestError

__all__ = ["UserEndpoints"]

_CREATE = frozenset({"email", "password", "full_name", "is_superuser"})
_UPDATE = frozenset({"email", "password", "full_name", "is_active", "is_superuser"})


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.",
            param=unknown[0],
        )


class UserEndpoints:
    def __init__(self, room: Room) -> None:
        self._room = room

    async def me(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        return 200, user_view(user)

    async def change_password(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        body = await self._room.body(request)
        await self._room.s.accounts.change_own_password(
            user, body.get("current_password"), body.get("new_password")
        )
        return 200, {"message": "Password updated; tokens issued before no longer work."}

    async def create(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        body = await self._room.body(request)
        _only(body, _CREATE)
        flag = body.get("is_superuser", False)
        if not isinstance(flag, bool):
            raise InvalidRequestError("is_superuser must be true or false.", param="is_superuser")
        created = await self._room.s.accounts.create(
            email=body.get("email"),
            password=body.get("password"),
            full_name=body.get("full_name"),
            is_superuser=flag,
        )
        return 201, user_view(created)

    async def list_users(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        page = int_query(request, "page", 1)
        size = int_query(request, "page_size", 100, high=500)
        found = await self._room.s.accounts.list(page=page, size=size)
        return 200, {"data": [user_view(u) for u in found.items], "count": found.total_count, "page": page}

    async def get(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        return 200, user_view(await self._room.s.accounts.get(params["user_id"]))

    async def update(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        body = await self._room.body(request)
        _only(body, _UPDATE)
        return 200, user_view(await self._room.s.accounts.update(user, params["user_id"], body))

    async def deactivate(self, request: Request, user: UserRecord, params: Any) -> tuple[int, Any]:
        updated = await self._room.s.accounts.update(user, params["user_id"], {"is_active": False})
        return 200, user_view(updated)
