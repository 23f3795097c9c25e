"""Users (LiteLLM's ``/user/*``): create (with a key), read, list, update and delete.

Creating a user creates a key for them too unless ``auto_create_key`` is false (LiteLLM's default
is true); the key gets the user's models and rate limits, not the user's budget (which belongs to
the user). A key's ``user_id`` need not name a user row (a sandbox session is just an id).
Deleting a user deletes and revokes their keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion.administration.announce import Announcer
from bastion.administration.budgets import Budgets
from bastion.administration.fields import Fields
from bastion.administration.key_fields import limit_changes
from bastion.administration.keys import KeyService
from bastion.administration.teams import TeamService
from bastion.auth.virtual_keys import KeyMaterial
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.store import Database, KeyRecord, Page, TeamRecord, UserRecord
from bastion.store.bounds import findable

__all__ = ["USER_FIELDS", "USER_ROLES", "NewUser", "UserInfo", "UserService"]

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


@dataclass(frozen=True, slots=True)
class NewUser:
    """A created user, and the key created with them (``None`` with ``auto_create_key: false``)."""

    user: UserRecord
    material: KeyMaterial | None = None
    key: KeyRecord | None = None


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user id's row (``None`` for an id only keys carry), keys and teams."""

    user: UserRecord | None
    keys: list[KeyRecord]
    teams: list[TeamRecord]


class UserService:
    def __init__(
        self,
        database: Database,
        announce: Announcer,
        budgets: Budgets,
        keys: KeyService,
        teams: TeamService,
    ) -> None:
        self._db = database
        self._announce = announce
        self._budgets = budgets
        self._keys = keys
        self._teams = teams

    async def create(self, body: Mapping[str, Any], *, actor: str) -> NewUser:
        """The user, and their key unless ``auto_create_key`` is false; nothing when either is refused."""
        fields = Fields(body)
        user_id = fields.text("user_id") or uuid.uuid4().hex
        changes = await self._changes(fields)
        auto_create_key = fields.flag("auto_create_key") is not False
        user = await self._db.users.create(UserRecord(user_id, **changes))
        created = NewUser(user)
        if auto_create_key:
            key_body = {name: body[name] for name in _KEY_FIELDS if name in body}
            key_body["user_id"] = user_id
            try:
                material, key = await self._keys.create(key_body, actor=actor)
            except Exception:
                # No half-made user: the caller can fix the request and send it again.
                await self._db.users.delete(user_id)
                raise
            created = NewUser(user, material, key)
        for team_id in user.teams:
            await self._teams.join(team_id, user_id)
        return created

    async def info(self, user_id: str) -> UserInfo:
        """The user, their keys and their teams; 404 when neither a row nor a key has the id."""
        user = await self._db.users.get(user_id) if findable(user_id) else None
        keys = await self._keys.all_of(user_id=user_id) if findable(user_id) else []
        if user is None and not keys:
            raise _missing(user_id)
        team_ids = dict.fromkeys([*(user.teams if user else ()), *(k.team_id for k in keys if k.team_id)])
        teams = []
        for team_id in team_ids:
            team = await self._teams.find(team_id)
            if team is not None:
                teams.append(team)
        return UserInfo(user, keys, teams)

    async def page(self, *, page: int = 1, size: int = 25) -> Page[UserRecord]:
        """Users, oldest first."""
        return await self._db.users.list_users(page=page, size=size)

    async def update(self, user_id: str, body: Mapping[str, Any]) -> UserRecord:
        """Apply ``/user/update`` fields; the user's keys get the new limits."""
        changes = await self._changes(Fields(body))
        updated = await self._db.users.update(user_id, changes) if findable(user_id) else None
        if updated is None:
            raise _missing(user_id)
        await self._announce.changed(await self._keys.hashes_of(user_id=user_id))
        for team_id in updated.teams:
            await self._teams.join(team_id, user_id)
        return updated

    async def delete(self, user_ids: Sequence[str], *, actor: str) -> list[str]:
        """Delete users and their keys; 404 (and nothing deleted) when one of them does not exist."""
        for user_id in user_ids:
            if not findable(user_id) or await self._db.users.get(user_id) is None:
                raise NotFoundError(
                    f"User '{user_id}' does not exist.", param="user_ids", code="user_not_found"
                )
        deleted: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            hashes = await self._keys.hashes_of(user_id=user_id)
            if await self._db.users.delete(user_id, deleted_by=actor) is not None:
                deleted.append(user_id)
                await self._announce.revoked(hashes)
        return deleted

    async def _changes(self, fields: Fields) -> dict[str, Any]:
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
                if await self._teams.find(team_id) is None:
                    raise InvalidRequestError(
                        f"Team '{team_id}' does not exist; create the team first.",
                        param="teams",
                        code="team_not_found",
                    )
            changes["teams"] = tuple(dict.fromkeys(teams))
        changes.update(self._budgets.changes(fields))
        return changes


def _missing(user_id: str) -> NotFoundError:
    return NotFoundError(f"User '{user_id}' does not exist.", param="user_id", code="user_not_found")
