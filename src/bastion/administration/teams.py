"""Teams: create, read, list, update, block and delete, for every surface.

A team's limits and models apply to every key of the team, so changing a team announces each of
its keys as changed (revoked when the team is blocked), and deleting a team deletes and revokes
its keys, as LiteLLM does.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bastion.administration.announce import Announcer
from bastion.administration.budgets import Budgets
from bastion.administration.fields import Fields
from bastion.administration.key_fields import CLEARABLE_SHARED, SHARED_TEXT_FIELDS, cleared, limit_changes
from bastion.administration.keys import KeyService
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.store import Database, Page, TeamRecord
from bastion.store.bounds import findable, text_problem

__all__ = [
    "ALL_PROXY_MODELS",
    "CLEARABLE_TEAM_FIELDS",
    "TEAM_FIELDS",
    "TEAM_TEXT_FIELDS",
    "TeamService",
    "team_not_found",
]

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
#: The fields the dashboard's team forms and ``bastion teams create`` may set, as text.
TEAM_TEXT_FIELDS = ("team_id", "team_alias", *SHARED_TEXT_FIELDS)
#: What clearing a field of a team sets.
CLEARABLE_TEAM_FIELDS: Mapping[str, Mapping[str, Any]] = {
    **CLEARABLE_SHARED,
    "team_alias": {"team_alias": None},
}
_ROLES = ("admin", "user")
_PAGE = 500


def team_not_found(team_id: str) -> NotFoundError:
    return NotFoundError(f"Team '{team_id}' does not exist.", param="team_id", code="team_not_found")


class TeamService:
    def __init__(self, database: Database, announce: Announcer, budgets: Budgets, keys: KeyService) -> None:
        self._db = database
        self._announce = announce
        self._budgets = budgets
        self._keys = keys

    async def create(self, body: Mapping[str, Any]) -> TeamRecord:
        """Store a team from ``/team/new`` fields; ``team_id`` is generated (uuid4 hex) when not given."""
        fields = Fields(body)
        team_id = fields.text("team_id") or uuid.uuid4().hex
        return await self._db.teams.create(TeamRecord(team_id, **self._changes(fields)))

    async def get(self, team_id: str) -> TeamRecord:
        """The team; 404 when there is none."""
        team = await self.find(team_id)
        if team is None:
            raise team_not_found(team_id)
        return team

    async def find(self, team_id: str) -> TeamRecord | None:
        return await self._db.teams.get(team_id) if findable(team_id) else None

    async def page(self, *, page: int = 1, size: int = 10) -> Page[TeamRecord]:
        """Teams, oldest first."""
        return await self._db.teams.list_teams(page=page, size=size)

    async def all(self) -> list[TeamRecord]:
        """Every team, oldest first, read page by page."""
        teams: list[TeamRecord] = []
        number = 1
        while True:
            batch = await self._db.teams.list_teams(page=number, size=_PAGE)
            teams.extend(batch.items)
            if len(batch.items) < _PAGE:
                return teams
            number += 1

    async def update(
        self, team_id: str, body: Mapping[str, Any], *, clear: Collection[str] = ()
    ) -> TeamRecord:
        """Apply ``/team/update`` fields and announce every key of the team; ``clear`` names
        fields (of :data:`CLEARABLE_TEAM_FIELDS`) to empty: no limit, no budget, every model."""
        emptied = cleared(clear, body, CLEARABLE_TEAM_FIELDS)
        changes = {**self._changes(Fields(body)), **emptied}
        updated = await self._db.teams.update(team_id, changes) if findable(team_id) else None
        if updated is None:
            raise team_not_found(team_id)
        hashes = await self._keys.hashes_of(team_id=team_id)
        # A blocked team's keys stop working; otherwise they work on under the new limits.
        await (self._announce.revoked if updated.blocked else self._announce.changed)(hashes)
        return updated

    async def set_blocked(self, team_id: str, *, blocked: bool) -> TeamRecord:
        """Block (every key of the team is refused) or unblock a team."""
        return await self.update(team_id, {"blocked": blocked})

    async def delete(self, team_ids: Sequence[str], *, actor: str) -> list[str]:
        """Delete teams and their keys; 404 (and nothing deleted) when one of them does not exist."""
        for team_id in team_ids:
            if await self.find(team_id) is None:
                raise team_not_found(team_id)
        return [team_id for team_id in dict.fromkeys(team_ids) if await self._remove(team_id, actor=actor)]

    async def remove(self, team_id: str, *, actor: str) -> None:
        """Delete a team and its keys, which stop working everywhere."""
        if not await self._remove(team_id, actor=actor):
            raise team_not_found(team_id)

    async def _remove(self, team_id: str, *, actor: str) -> bool:
        if not findable(team_id):
            return False
        hashes = await self._keys.hashes_of(team_id=team_id)
        if await self._db.teams.delete(team_id, deleted_by=actor) is None:
            return False
        await self._announce.revoked(hashes)
        return True

    def _changes(self, fields: Fields) -> dict[str, Any]:
        """The team columns ``fields`` sets; fields absent or ``null`` are left out (unchanged)."""
        changes: dict[str, Any] = {}
        alias = fields.text("team_alias")
        if alias is not None:
            changes["team_alias"] = alias
        models = fields.names("models")
        if models is not None:
            changes["models"] = tuple(model for model in models if model != ALL_PROXY_MODELS)
        changes.update(limit_changes(fields, blockable=True))
        members = _members(fields)
        if members is not None:
            changes["members_with_roles"] = members
        changes.update(self._budgets.changes(fields))
        return changes

    async def join(self, team_id: str, user_id: str) -> None:
        """Add a user to a team's ``members_with_roles`` (as LiteLLM's user ``teams`` field does)."""
        team = await self.find(team_id)
        if team is None or any(m.get("user_id") == user_id for m in team.members_with_roles):
            return
        members = (*team.members_with_roles, {"role": "user", "user_id": user_id})
        await self._db.teams.update(team_id, {"members_with_roles": members})


def _members(fields: Fields) -> tuple[dict[str, Any], ...] | None:
    """``members_with_roles``: ``[{"role": "admin"|"user", "user_id"|"user_email": ...}]``."""
    items = fields.objects("members_with_roles")
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
                if not isinstance(value, str) or not value or text_problem(value) is not None:
                    raise InvalidRequestError(
                        f"A member's {name} must be a string of at most 255 characters.",
                        param="members_with_roles",
                    )
                member[name] = value
        if len(member) == 1:
            raise InvalidRequestError(
                "Each member needs a user_id or a user_email.", param="members_with_roles"
            )
        members.append(member)
    return tuple(members)
