"""``/team/*``: create, read, list, update and delete teams (LiteLLM's API).

The work (checks, announcing every key of a changed team) is the
:class:`~bastion.administration.teams.TeamService`'s. ``GET /team/info`` answers 404 for an
unknown team: clients (the seed's ``ensureTeamExists``) create the team when they see it.
"""

from __future__ import annotations

from typing import Any

from bastion.administration.fields import Fields
from bastion.administration.key_fields import note_ignored
from bastion.administration.teams import TEAM_FIELDS
from bastion.api.asgi import Request
from bastion.api.management._common import Management, actor
from bastion.api.management._query import required_query
from bastion.api.management._render import key_object, team_info
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal

__all__ = ["TeamEndpoints"]


class TeamEndpoints:
    def __init__(self, management: Management) -> None:
        self._m = management
        self._teams = management.admin.teams
        self._keys = management.admin.keys

    async def new(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/new``: ``team_id`` is generated (uuid4 hex) when not given."""
        body = await self._m.body(request)
        note_ignored("/team/new", body, TEAM_FIELDS)
        return team_info(await self._teams.create(body))

    async def info(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``GET /team/info?team_id=``: the team and its keys (hashes and rows, never values)."""
        team_id = required_query(request, "team_id")
        team = await self._teams.get(team_id)
        keys = await self._keys.all_of(team_id=team_id)
        return {"team_id": team_id, "team_info": team_info(team), "keys": [key_object(k) for k in keys]}

    async def list_teams(self, request: Request, principal: Principal) -> list[dict[str, Any]]:
        """``GET /team/list``: every team, oldest first, as a JSON list."""
        return [team_info(team) for team in await self._teams.all()]

    async def update(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/update``: ``team_id`` plus the fields to change."""
        body = await self._m.body(request)
        note_ignored("/team/update", body, TEAM_FIELDS)
        team_id = Fields(body).text("team_id")
        if team_id is None:
            raise InvalidRequestError("Pass the 'team_id' of the team to update.", param="team_id")
        return {"team_id": team_id, "data": team_info(await self._teams.update(team_id, body))}

    async def delete(self, request: Request, principal: Principal) -> dict[str, Any]:
        """``POST /team/delete`` ``{"team_ids": [...]}``: the teams and their keys; 404 (and
        nothing deleted) when one of them does not exist."""
        team_ids = Fields(await self._m.body(request)).names("team_ids")
        if not team_ids:
            raise InvalidRequestError("Pass 'team_ids', a list of the teams to delete.", param="team_ids")
        return {"deleted_teams": await self._teams.delete(team_ids, actor=actor(principal))}
