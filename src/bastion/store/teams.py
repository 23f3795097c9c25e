"""Teams: create, get, update, delete and list rows of ``teams``.

Deleting a team deletes its keys too (with audit copies), as LiteLLM's ``/team/delete`` does: a
key must not outlive the team whose budget and limits it was issued under.
"""

from __future__ import annotations

from sqlalchemy import delete

from bastion.store._archive import archive_keys
from bastion.store._owners import OwnerRepository
from bastion.store._transactions import writing
from bastion.store.records import Page, TeamRecord
from bastion.store.schema import teams, verification_tokens

__all__ = ["TEAM_UPDATABLE_FIELDS", "TeamRepository"]

TEAM_UPDATABLE_FIELDS = frozenset(
    {
        "team_alias",
        "models",
        "max_budget",
        "spend",
        "budget_duration",
        "budget_reset_at",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "members_with_roles",
        "metadata",
        "blocked",
    }
)


class TeamRepository(OwnerRepository[TeamRecord]):
    """Async access to teams."""

    _table = teams
    _id = "team_id"
    _record = TeamRecord
    _updatable = TEAM_UPDATABLE_FIELDS
    _noun = "team"

    async def delete(self, team_id: str, *, deleted_by: str | None = None) -> list[str] | None:
        """Delete the team and its keys; the deleted keys' tokens, or ``None`` if no such team."""
        async with writing(self._engine) as conn:
            tokens = await archive_keys(
                conn, verification_tokens.c.team_id == team_id, deleted_by=deleted_by, now=self._clock()
            )
            result = await conn.execute(delete(teams).where(teams.c.team_id == team_id))
            if result.rowcount == 0:
                # A missing team has no keys (foreign key), so nothing was archived either.
                return None
        return tokens

    async def list_teams(self, *, page: int = 1, size: int = 10) -> Page[TeamRecord]:
        """Teams, oldest first."""
        return await self._page(page, size)
