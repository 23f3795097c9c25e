"""``/user/new``, ``/user/info``, ``/user/update``, ``/user/delete`` and ``/user/list`` (LiteLLM's API).

``/user/new`` creates a key for the user too unless ``auto_create_key`` is false (LiteLLM's
default is true); the key gets the user's models and rate limits, not the user's budget (which
belongs to the user). A key's ``user_id`` need not name a user row (a sandbox session is just an
id): ``/user/info`` then answers with ``user_info: null`` and the keys of that id.
"""

from __future__ import annotations

import uuid
from typing import Any

from bastion.api.asgi import Request
from bastion.api.management._common import Management, required_query
from bastion.api.management._fields import Fields
from bastion.api.management._key_fields import actor, budget_changes, limit_changes, note_ignored
from bastion.api.management._render import iso, key_object, team_info, user_info
from bastion.api.management.keys import KeyEndpoints
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.domain.principal import Principal
from bastion.store import UserRecord

__all__ = ["USER_FIELDS", "USER_ROLES", "UserEndpoints"]

#: LiteLLM's roles; stored and returned, but a user's keys never act as the master key.
USER_ROLES = (
    "proxy_admin",
    "proxy_admin_viewer",
    "internal_user",
    "internal_user_viewer",
    "team",
    "customer",
)

#: Fields of ``/user/new`` that go to the key it creates.
_KEY_FIELDS = (
    "key",
    "key_alias",
    "duration",
    "team_id",
    "models",
    "tpm_limit",
    "rpm_limit",
    "max_parallel_requests",
    "metadata",
)

USER_FIELDS = frozenset(
    {
        "user_id",
        "user_email",
        "user_alias",
        "user_role",
        "teams",
        "max_budget",
        "budget_duration",
        "auto_create_key",
        *_KEY_FIELDS,
    }
)


class UserEndpoints:
    def __init__(self, management: Management, keys: KeyEndpoints) -> None:
        self._m = management
        self._keys = keys

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/new``: the user, and a ``key`` (shown once) unless ``auto_create_key`` is false."""
        body = await self._m.body(request)
        note_ignored("/user/new", body, USER_FIELDS)
        fields = Fields(body)
        user_id = fields.text("user_id") or uuid.uuid4().hex
        changes = await self._user_changes(fields)
        auto_create_key = fields.flag("auto_create_key") is not False
        user = await self._m.db.users.create(UserRecord(user_id, **changes))
        answer: dict[str, Any] = {**user_info(user), "key": None, "key_name": None, "token": None}
        if auto_create_key:
            key_body = {name: body[name] for name in _KEY_FIELDS if name in body}
            key_body["user_id"] = user_id
            try:
                material, key = await self._keys.create(Fields(key_body), principal)
            except Exception:
                # No half-made user: the caller can fix the request and send it again.
                await self._m.db.users.delete(user_id)
                raise
            answer.update(key=material.key, key_name=key.key_name, token=key.token, expires=iso(key.expires))
        await self._join_teams(user_id, user.teams)
        return answer

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /user/info?user_id=``: the user, their keys and their teams."""
        user_id = required_query(request, "user_id")
        user = await self._m.db.users.get(user_id)
        keys = await self._m.all_keys(user_id=user_id)
        if user is None and not keys:
            raise NotFoundError(f"User '{user_id}' does not exist.", param="user_id", code="user_not_found")
        team_ids = dict.fromkeys([*(user.teams if user else ()), *(k.team_id for k in keys if k.team_id)])
        teams = []
        for team_id in team_ids:
            team = await self._m.db.teams.get(team_id)
            if team is not None:
                teams.append(team_info(team))
        return {
            "user_id": user_id,
            "user_info": None if user is None else user_info(user),
            "keys": [key_object(key) for key in keys],
            "teams": teams,
        }

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/update``: ``user_id`` and the fields to change; its keys get the new limits."""
        body = await self._m.body(request)
        note_ignored("/user/update", body, USER_FIELDS)
        fields = Fields(body)
        user_id = fields.text("user_id")
        if user_id is None:
            raise InvalidRequestError("Pass the 'user_id' of the user to update.", param="user_id")
        updated = await self._m.db.users.update(user_id, await self._user_changes(fields))
        if updated is None:
            raise NotFoundError(f"User '{user_id}' does not exist.", param="user_id", code="user_not_found")
        await self._m.changed([key.token for key in await self._m.all_keys(user_id=user_id)])
        await self._join_teams(user_id, updated.teams)
        return {"user_id": user_id, "data": user_info(updated)}

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /user/delete`` ``{"user_ids": [...]}``: the users and their keys (404, and nothing
        deleted, when one of them does not exist)."""
        user_ids = Fields(await self._m.body(request)).names("user_ids")
        if not user_ids:
            raise InvalidRequestError("Pass 'user_ids', a list of the users to delete.", param="user_ids")
        for user_id in user_ids:
            if await self._m.db.users.get(user_id) is None:
                raise NotFoundError(
                    f"User '{user_id}' does not exist.", param="user_ids", code="user_not_found"
                )
        deleted: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            tokens = await self._m.db.users.delete(user_id, deleted_by=actor(principal))
            if tokens is not None:
                deleted.append(user_id)
                await self._m.revoke(tokens)
        return {"deleted_users": deleted}

    async def list_users(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /user/list?page=&page_size=``: ``{users, total, page, page_size, total_pages}``."""
        page = max(_int_query(request, "page", 1), 1)
        size = min(max(_int_query(request, "page_size", 25), 1), 100)
        batch = await self._m.db.users.list_users(page=page, size=size)
        return {
            "users": [user_info(user) for user in batch.items],
            "total": batch.total_count,
            "page": page,
            "page_size": size,
            "total_pages": -(-batch.total_count // size),
        }

    async def _user_changes(self, fields: Fields) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in ("user_email", "user_alias", "user_role"):
            text = fields.text(name)
            if text is not None:
                changes[name] = text
        if changes.get("user_role", USER_ROLES[2]) not in USER_ROLES:
            raise InvalidRequestError(f"user_role must be one of {', '.join(USER_ROLES)}.", param="user_role")
        models = fields.names("models")
        if models is not None:
            changes["models"] = models
        changes.update(limit_changes(fields, blockable=False))
        teams = fields.names("teams")
        if teams:
            for team_id in teams:
                if await self._m.db.teams.get(team_id) is None:
                    raise InvalidRequestError(
                        f"Team '{team_id}' does not exist. Create it first with POST /team/new.",
                        param="teams",
                        code="team_not_found",
                    )
            changes["teams"] = tuple(dict.fromkeys(teams))
        changes.update(budget_changes(fields, now=self._m.clock(), tz=self._m.budget_tz))
        return changes

    async def _join_teams(self, user_id: str, team_ids: tuple[str, ...]) -> None:
        """Add the user to each team's ``members_with_roles`` (as LiteLLM's ``teams`` field does)."""
        for team_id in team_ids:
            team = await self._m.db.teams.get(team_id)
            if team is None or any(m.get("user_id") == user_id for m in team.members_with_roles):
                continue
            members = (*team.members_with_roles, {"role": "user", "user_id": user_id})
            await self._m.db.teams.update(team_id, {"members_with_roles": members})


def _int_query(request: Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise InvalidRequestError(f"'{name}' must be a positive whole number.", param=name)
    return int(value)
