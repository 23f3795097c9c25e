"""``/user/new``, ``/user/info``, ``/user/update``, ``/user/delete`` and ``/user/list`` (LiteLLM's API).

The work is the :class:`~bastion.administration.users.UserService`'s: ``/user/new`` creates a key
for the user too unless ``auto_create_key`` is false, and ``/user/info`` of an id only keys carry
(a sandbox session) answers with ``user_info: null`` and the keys of that id.
"""

from __future__ import annotations

from typing import Any

from bastion.administration.fields import Fields
from bastion.administration.key_fields import note_ignored
from bastion.administration.users import USER_FIELDS
from bastion.api.asgi import Request
from bastion.api.management._common import Management, actor
from bastion.api.management._query import query_int, required_query
from bastion.api.management._render import iso, key_object, team_info, user_info
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal

__all__ = ["UserEndpoints"]


class UserEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._users = management.admin.users

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/new``: the user, and a ``key`` (shown once) unless ``auto_create_key`` is false."""
        body = await self._m.body(request)
        note_ignored("/user/new", body, USER_FIELDS)
        created = await self._users.create(body, actor=actor(principal))
        answer: dict[str, Any] = {**user_info(created.user), "key": None, "key_name": None, "token": None}
        if created.material is not None and created.key is not None:
            key = created.key
            answer.update(
                key=created.material.key, key_name=key.key_name, token=key.token, expires=iso(key.expires)
            )
        return answer

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /user/info?user_id=``: the user, their keys and their teams."""
        user_id = required_query(request, "user_id")
        found = await self._users.info(user_id)
        return {
            "user_id": user_id,
            "user_info": None if found.user is None else user_info(found.user),
            "keys": [key_object(key) for key in found.keys],
            "teams": [team_info(team) for team in found.teams],
        }

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/update``: ``user_id`` and the fields to change; its keys get the new limits."""
        body = await self._m.body(request)
        note_ignored("/user/update", body, USER_FIELDS)
        user_id = Fields(body).text("user_id")
        if user_id is None:
            raise InvalidRequestError("Pass the 'user_id' of the user to update.", param="user_id")
        return {"user_id": user_id, "data": user_info(await self._users.update(user_id, body))}

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/delete`` ``{"user_ids": [...]}``: the users and their keys (404, and nothing
        deleted, when one of them does not exist)."""
        user_ids = Fields(await self._m.body(request)).names("user_ids")
        if not user_ids:
            raise InvalidRequestError("Pass 'user_ids', a list of the users to delete.", param="user_ids")
        return {"deleted_users": await self._users.delete(user_ids, actor=actor(principal))}

    async def list_users(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /user/list?page=&page_size=``: ``{users, total, page, page_size, total_pages}``."""
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        size = query_int(request, "page_size", 25, low=1, high=100)
        batch = await self._users.page(page=page, size=size)
        return {
            "users": [user_info(user) for user in batch.items],
            "total": batch.total_count,
            "page": page,
            "page_size": size,
            "total_pages": -(-batch.total_count // size),
        }
