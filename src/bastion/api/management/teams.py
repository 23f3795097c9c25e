"""``/team/*``: create, read, list, update and delete teams (LiteLLM's API).

A team's limits and models apply to every key of the team, so updating a team announces each of
its keys as changed (revoked when the team is blocked), and deleting a team deletes and revokes
its keys, as LiteLLM does.
``GET /team/info`` answers 404 for an unknown team: clients (the seed's ``ensureTeamExists``)
create the team when they see it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, tzinfo
from typing import Any

from bastion.api.asgi import Request
from bastion.api.management._common import Management, required_query
from bastion.api.management._fields import Fields
from bastion.api.management._key_fields import actor, budget_changes, limit_changes, note_ignored
from bastion.api.management._render import key_object, team_info
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.domain.principal import Principal
from bastion.store import TeamRecord

__all__ = ["ALL_PROXY_MODELS", "TEAM_FIELDS", "TeamEndpoints", "team_changes"]

#: LiteLLM's "every model of the gateway" sentinel; an empty list means the same here.
ALL_PROXY_MODELS = "all-proxy-models"

TEAM_FIELDS = frozenset(
    {
        "team_id",
        "team_alias",
        "models",
        "max_budget",
        "budget_duration",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "metadata",
        "blocked",
        "members_with_roles",
    }
)
_ROLES = ("admin", "user")
_PAGE = 500


def team_changes(body: Fields, *, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The team columns ``body`` sets; fields absent or ``null`` are left out (unchanged)."""
    changes: dict[str, Any] = {}
    alias = body.text("team_alias")
    if alias is not None:
        changes["team_alias"] = alias
    models = body.names("models")
    if models is not None:
        changes["models"] = tuple(model for model in models if model != ALL_PROXY_MODELS)
    changes.update(limit_changes(body, blockable=True))
    members = _members(body)
    if members is not None:
        changes["members_with_roles"] = members
    changes.update(budget_changes(body, now=now, tz=tz))
    return changes


class TeamEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/new``: ``team_id`` is generated (uuid4 hex) when not given."""
        body = await self._m.body(request)
        note_ignored("/team/new", body, TEAM_FIELDS)
        return team_info(await self.create(Fields(body)))

    async def create(self, fields: Fields) -> TeamRecord:
        """Store a team from the fields of a ``/team/new`` body (the dashboard too)."""
        team_id = fields.text("team_id") or uuid.uuid4().hex
        changes = team_changes(fields, now=self._m.clock(), tz=self._m.budget_tz)
        return await self._m.db.teams.create(TeamRecord(team_id, **changes))

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /team/info?team_id=``: the team and its keys (hashes and rows, never values)."""
        team_id = required_query(request, "team_id")
        team = await self._m.db.teams.get(team_id)
        if team is None:
            raise _missing(team_id)
        keys = await self._m.all_keys(team_id=team_id)
        return {"team_id": team_id, "team_info": team_info(team), "keys": [key_object(k) for k in keys]}

    async def list_teams(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /team/list``: every team, oldest first, as a JSON list."""
        teams: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = await self._m.db.teams.list_teams(page=page, size=_PAGE)
            teams.extend(team_info(team) for team in batch.items)
            if len(batch.items) < _PAGE:
                return teams
            page += 1

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/update``: ``team_id`` plus the fields to change."""
        body = await self._m.body(request)
        note_ignored("/team/update", body, TEAM_FIELDS)
        fields = Fields(body)
        team_id = fields.text("team_id")
        if team_id is None:
            raise InvalidRequestError("Pass the 'team_id' of the team to update.", param="team_id")
        updated = await self.change(team_id, fields)
        return {"team_id": team_id, "data": team_info(updated)}

    async def change(self, team_id: str, fields: Fields) -> TeamRecord:
        """Apply ``/team/update`` fields and announce every key of the team (the dashboard too)."""
        changes = team_changes(fields, now=self._m.clock(), tz=self._m.budget_tz)
        updated = await self._m.db.teams.update(team_id, changes)
        if updated is None:
            raise _missing(team_id)
        tokens = [key.token for key in await self._m.all_keys(team_id=team_id)]
        # A blocked team's keys stop working; otherwise they work on under the new limits.
        await (self._m.revoke if updated.blocked else self._m.changed)(tokens)
        return updated

    async def remove(self, team_id: str, principal: Principal) -> None:
        """Delete a team and its keys, which stop working everywhere."""
        tokens = await self._m.db.teams.delete(team_id, deleted_by=actor(principal))
        if tokens is None:
            raise _missing(team_id)
        await self._m.revoke(tokens)

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/delete`` ``{"team_ids": [...]}``: the teams and their keys; 404 (and
        nothing deleted) when one of them does not exist."""
        team_ids = Fields(await self._m.body(request)).names("team_ids")
        if not team_ids:
            raise InvalidRequestError("Pass 'team_ids', a list of the teams to delete.", param="team_ids")
        for team_id in team_ids:
            if await self._m.db.teams.get(team_id) is None:
                raise _missing(team_id)
        deleted: list[str] = []
        for team_id in dict.fromkeys(team_ids):
            tokens = await self._m.db.teams.delete(team_id, deleted_by=actor(principal))
            if tokens is not None:
                deleted.append(team_id)
                await self._m.revoke(tokens)
        return {"deleted_teams": deleted}


def _members(body: Fields) -> tuple[dict[str, Any], ...] | None:
    """``members_with_roles``: ``[{"role": "admin"|"user", "user_id"|"user_email": ...}]``."""
    items = body.objects("members_with_roles")
    if items is None:
        return None
    members: list[dict[str, Any]] = []
    for item in items:
        role = item.get("role", "user")
        if role not in _ROLES:
            raise InvalidRequestError(
                "Each member's role must be 'admin' or 'user'.", param="members_with_roles"
            )
        member = {"role": role}
        for name in ("user_id", "user_email"):
            value = item.get(name)
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise InvalidRequestError(
                        f"A member's {name} must be a string.", param="members_with_roles"
                    )
                member[name] = value
        if len(member) == 1:
            raise InvalidRequestError(
                "Each member needs a user_id or a user_email.", param="members_with_roles"
            )
        members.append(member)
    return tuple(members)


def _missing(team_id: str) -> NotFoundError:
    return NotFoundError(f"Team '{team_id}' does not exist.", param="team_id", code="team_not_found")
