"""Teams and users in the store: CRUD, duplicates, listing, and deletion taking keys along."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from store_backends import Backend

from bastion.store import AlreadyExistsError, Database, KeyRecord, Page, TeamRecord, UserRecord

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def token(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_team_round_trips_and_updates(backend: Backend) -> None:
    """A team reads back as created; an update changes only the given fields."""
    members = ({"role": "admin", "user_id": "u1"},)

    async def scenario(db: Database) -> tuple[TeamRecord, TeamRecord | None, TeamRecord | None]:
        created = await db.teams.create(
            TeamRecord("org", team_alias="Acme", models=("gpt",), max_budget=50.0, members_with_roles=members)
        )
        read = await db.teams.get("org")
        updated = await db.teams.update("org", {"rpm_limit": 100, "blocked": True})
        return created, read, updated

    created, read, updated = backend.run(scenario)
    assert created == read
    assert created.members_with_roles == members and created.models == ("gpt",)
    assert updated is not None and (updated.rpm_limit, updated.blocked, updated.max_budget) == (
        100,
        True,
        50.0,
    )


def test_duplicate_team_and_user_are_refused(backend: Backend) -> None:
    """Creating a team or user whose id exists raises AlreadyExistsError naming the id field."""

    async def scenario(db: Database) -> list[str | None]:
        await db.teams.create(TeamRecord("org"))
        await db.users.create(UserRecord("u1"))
        params = []
        with pytest.raises(AlreadyExistsError) as team:
            await db.teams.create(TeamRecord("org"))
        params.append(team.value.param)
        with pytest.raises(AlreadyExistsError) as user:
            await db.users.create(UserRecord("u1"))
        params.append(user.value.param)
        return params

    assert backend.run(scenario) == ["team_id", "user_id"]


def test_deleting_a_team_deletes_its_keys(backend: Backend) -> None:
    """The team's keys are deleted (and audited) with it; other keys stay."""

    async def scenario(db: Database) -> tuple[list[str] | None, list[str] | None, bool, bool]:
        await db.teams.create(TeamRecord("org"))
        await db.keys.create(KeyRecord(token("in-team"), "k1", team_id="org"))
        await db.keys.create(KeyRecord(token("no-team"), "k2"))
        deleted = await db.teams.delete("org", deleted_by="admin")
        missing = await db.teams.delete("org")
        return (
            deleted,
            missing,
            await db.keys.was_deleted(token("in-team")),
            await db.keys.get(token("no-team")) is not None,
        )

    assert backend.run(scenario) == ([token("in-team")], None, True, True)


def test_user_round_trips_updates_and_deletes_with_keys(backend: Backend) -> None:
    """A user reads back as created, updates, and takes their keys along when deleted."""

    async def scenario(
        db: Database,
    ) -> tuple[UserRecord, UserRecord | None, list[str] | None, UserRecord | None]:
        created = await db.users.create(
            UserRecord("u1", user_email="a@example.com", user_role="internal_user", teams=("org",))
        )
        updated = await db.users.update("u1", {"max_budget": 10.0, "metadata": {"plan": "pro"}})
        await db.keys.create(KeyRecord(token("users-key"), "k", user_id="u1"))
        deleted = await db.users.delete("u1")
        return created, updated, deleted, await db.users.get("u1")

    created, updated, deleted, after = backend.run(scenario)
    assert created.teams == ("org",) and created.user_email == "a@example.com"
    assert updated is not None and updated.max_budget == 10.0 and updated.metadata == {"plan": "pro"}
    assert deleted == [token("users-key")] and after is None


def test_missing_team_and_user_read_as_none(backend: Backend) -> None:
    """Unknown ids give None from get, update and delete."""

    async def scenario(db: Database) -> list[object]:
        return [
            await db.teams.get("x"),
            await db.teams.update("x", {"blocked": True}),
            await db.users.get("x"),
            await db.users.update("x", {"user_alias": "y"}),
            await db.users.delete("x"),
        ]

    assert backend.run(scenario) == [None] * 5


def test_teams_and_users_list_in_pages(backend: Backend) -> None:
    """Listings page oldest first with the whole count."""

    async def scenario(db: Database) -> tuple[Page[TeamRecord], Page[UserRecord]]:
        for i in range(5):
            at = NOW + timedelta(seconds=i)
            await db.teams.create(TeamRecord(f"t{i}", created_at=at))
            await db.users.create(UserRecord(f"u{i}", created_at=at))
        return await db.teams.list_teams(page=2, size=2), await db.users.list_users(page=3, size=2)

    teams, users = backend.run(scenario)
    assert [t.team_id for t in teams.items] == ["t2", "t3"] and teams.total_count == 5
    assert [u.user_id for u in users.items] == ["u4"] and users.total_pages == 3
