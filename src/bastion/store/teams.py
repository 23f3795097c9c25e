"""Teams: create, get, update, delete and list rows of ``teams``.

Deleting a team deletes its keys too (with audit copies), as LiteLLM's ``/team/delete`` does: a
key must not outlive the team whose budget and limits it was issued under.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from bastion.store._archive import archive_keys
from bastion.store._clock import Clock, utc_now
from bastion.store._mapping import checked_changes, record_from_row, record_values
from bastion.store._transactions import reading, writing
from bastion.store.errors import AlreadyExistsError
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


class TeamRepository:
    """Async access to teams."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, team: TeamRecord) -> TeamRecord:
        """Insert ``team``; :class:`AlreadyExistsError` if its ``team_id`` is taken."""
        now = self._clock()
        team = replace(team, created_at=team.created_at or now, updated_at=team.updated_at or now)
        query = insert(teams).values(record_values(team)).returning(teams)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).one()
        except sa_exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"A team with team_id '{team.team_id}' already exists.", param="team_id", code="team_exists"
            ) from exc
        return record_from_row(TeamRecord, row)

    async def get(self, team_id: str) -> TeamRecord | None:
        async with reading(self._engine) as conn:
            row = (await conn.execute(select(teams).where(teams.c.team_id == team_id))).first()
        return None if row is None else record_from_row(TeamRecord, row)

    async def update(self, team_id: str, changes: Mapping[str, Any]) -> TeamRecord | None:
        """Apply ``changes`` (names from :data:`TEAM_UPDATABLE_FIELDS`); ``None`` if no such team."""
        values = checked_changes(changes, TEAM_UPDATABLE_FIELDS)
        values["updated_at"] = self._clock()
        query = update(teams).where(teams.c.team_id == team_id).values(values).returning(teams)
        async with writing(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else record_from_row(TeamRecord, row)

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
        query = (
            select(teams)
            .order_by(teams.c.created_at, teams.c.team_id)
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        async with reading(self._engine) as conn:
            total = (await conn.execute(select(func.count()).select_from(teams))).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(TeamRecord, r) for r in rows), total, page, size)
