"""Virtual keys in the store: CRUD, alias uniqueness, listing, deletion audit and regeneration."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from store_backends import Backend

from bastion.domain.errors import InvalidRequestError
from bastion.store import AlreadyExistsError, Database, KeyRecord, Page, TeamRecord

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def token(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def key(name: str, **fields: Any) -> KeyRecord:
    return KeyRecord(token(name), f"sk-...{name[-4:]}", **fields)


def test_create_then_get_round_trips_every_field(backend: Backend) -> None:
    """A created key reads back equal, by token and by alias, with aware UTC timestamps."""
    expires = datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC)
    created = key(
        "sk-alpha",
        key_alias="alpha",
        user_id="session-1",
        models=("gpt", "claude"),
        max_budget=50.0,
        budget_duration="30d",
        expires=expires,
        tpm_limit=1000,
        rpm_limit=10,
        max_parallel_requests=2,
        metadata={"org": "acme", "nested": {"n": [1, 2]}},
        created_by="admin",
    )

    async def scenario(db: Database) -> tuple[KeyRecord, KeyRecord | None, KeyRecord | None]:
        stored = await db.keys.create(created)
        return stored, await db.keys.get(created.token), await db.keys.get_by_alias("alpha")

    stored, by_token, by_alias = backend.run(scenario)
    assert stored == by_token == by_alias
    assert stored.models == ("gpt", "claude")
    assert stored.metadata == {"org": "acme", "nested": {"n": [1, 2]}}
    assert stored.expires == expires
    assert stored.created_at is not None and stored.created_at.tzinfo == UTC
    assert stored.spend == 0.0 and stored.max_budget == 50.0


def test_missing_key_reads_as_none(backend: Backend) -> None:
    """Looking up, updating or regenerating an unknown token gives None."""

    async def scenario(db: Database) -> list[object]:
        return [
            await db.keys.get(token("nope")),
            await db.keys.get_by_alias("nope"),
            await db.keys.update(token("nope"), {"blocked": True}),
            await db.keys.regenerate(token("nope"), new_token=token("new"), new_key_name="sk-...new"),
            await db.keys.delete([token("nope")]),
        ]

    assert backend.run(scenario) == [None, None, None, None, []]


def test_alias_is_unique_on_create_and_update(backend: Backend) -> None:
    """A second key cannot take an alias in use, neither when created nor when updated."""

    async def scenario(db: Database) -> list[str | None]:
        await db.keys.create(key("sk-one", key_alias="shared"))
        await db.keys.create(key("sk-two", key_alias="other"))
        await db.keys.create(key("sk-three"))  # many keys may have no alias
        await db.keys.create(key("sk-four"))
        params = []
        with pytest.raises(AlreadyExistsError) as on_create:
            await db.keys.create(key("sk-five", key_alias="shared"))
        params.append(on_create.value.param)
        with pytest.raises(AlreadyExistsError) as on_update:
            await db.keys.update(token("sk-two"), {"key_alias": "shared"})
        params.append(on_update.value.param)
        with pytest.raises(AlreadyExistsError) as same_token:
            await db.keys.create(key("sk-one"))
        params.append(same_token.value.param)
        return params

    assert backend.run(scenario) == ["key_alias", "key_alias", "key"]


def test_key_for_unknown_team_is_refused(backend: Backend) -> None:
    """A key naming a team that does not exist is a 400 naming team_id."""

    async def scenario(db: Database) -> InvalidRequestError:
        with pytest.raises(InvalidRequestError) as refused:
            await db.keys.create(key("sk-orphan", team_id="ghost"))
        return refused.value

    error = backend.run(scenario)
    assert error.status == 400 and error.param == "team_id" and "ghost" in error.message


def test_update_changes_given_fields_only(backend: Backend) -> None:
    """An update sets the given fields (None clears one), bumps updated_at, keeps the rest."""

    async def scenario(db: Database) -> tuple[KeyRecord, KeyRecord | None]:
        await db.teams.create(TeamRecord("org"))
        before = await db.keys.create(key("sk-upd", max_budget=5.0, rpm_limit=3, models=("a",)))
        after = await db.keys.update(
            before.token,
            {
                "max_budget": None,
                "team_id": "org",
                "models": ("a", "b"),
                "blocked": True,
                "metadata": {"x": 1},
            },
        )
        return before, after

    before, after = backend.run(scenario)
    assert after is not None
    assert (after.max_budget, after.team_id, after.models, after.blocked) == (None, "org", ("a", "b"), True)
    assert after.metadata == {"x": 1}
    assert after.rpm_limit == 3 and after.created_at == before.created_at
    assert after.updated_at is not None and before.updated_at is not None
    assert after.updated_at >= before.updated_at


def test_update_of_unknown_field_is_a_programming_error(backend: Backend) -> None:
    """Only the documented fields can be updated; the token is not one of them."""

    async def scenario(db: Database) -> None:
        await db.keys.create(key("sk-x"))
        with pytest.raises(ValueError, match="token"):
            await db.keys.update(token("sk-x"), {"token": "other"})

    backend.run(scenario)


def test_delete_keeps_an_audit_copy(backend: Backend) -> None:
    """Deleted keys are gone, reported as deleted, and kept in deleted_tokens."""

    async def scenario(db: Database) -> tuple[list[str], KeyRecord | None, bool, bool]:
        await db.keys.create(key("sk-del", key_alias="gone"))
        await db.keys.create(key("sk-keep"))
        deleted = await db.keys.delete([token("sk-del"), token("sk-never")], deleted_by="admin")
        return (
            deleted,
            await db.keys.get(token("sk-del")),
            await db.keys.was_deleted(token("sk-del")),
            await db.keys.was_deleted(token("sk-keep")),
        )

    deleted, row, was_deleted, kept_was_deleted = backend.run(scenario)
    assert deleted == [token("sk-del")]
    assert row is None and was_deleted and not kept_was_deleted


def test_deleted_alias_can_be_reused(backend: Backend) -> None:
    """Once a key is deleted its alias is free again."""

    async def scenario(db: Database) -> str | None:
        await db.keys.create(key("sk-a", key_alias="reused"))
        await db.keys.delete([token("sk-a")])
        return (await db.keys.create(key("sk-b", key_alias="reused"))).key_alias

    assert backend.run(scenario) == "reused"


def test_list_filters_and_pages(backend: Backend) -> None:
    """Listing filters by user and team, pages newest first, and counts the whole match."""

    async def scenario(db: Database) -> tuple[Page[KeyRecord], Page[KeyRecord], Page[KeyRecord]]:
        await db.teams.create(TeamRecord("t1"))
        for i in range(7):
            created = NOW + timedelta(minutes=i)
            team = "t1" if i % 2 == 0 else None
            await db.keys.create(key(f"sk-k{i}", user_id="u1", team_id=team, created_at=created))
        await db.keys.create(key("sk-other", user_id="u2"))
        first = await db.keys.list_keys(user_id="u1", page=1, size=3)
        last = await db.keys.list_keys(user_id="u1", page=3, size=3)
        team_keys = await db.keys.list_keys(user_id="u1", team_id="t1", size=10)
        return first, last, team_keys

    first, last, team_keys = backend.run(scenario)
    assert [k.token for k in first.items] == [token("sk-k6"), token("sk-k5"), token("sk-k4")]
    assert (first.total_count, first.total_pages) == (7, 3)
    assert [k.token for k in last.items] == [token("sk-k0")]
    assert {k.token for k in team_keys.items} == {token(f"sk-k{i}") for i in (0, 2, 4, 6)}
    assert team_keys.total_count == 4


def test_regenerate_with_grace_period(backend: Backend) -> None:
    """The new token works at once; the old one until the grace period ends, then never."""
    grace_end = NOW + timedelta(hours=24)

    async def scenario(db: Database) -> list[str | None]:
        old = await db.keys.create(key("sk-old", key_alias="rot", spend=1.5))
        new = await db.keys.regenerate(
            old.token, new_token=token("sk-new"), new_key_name="sk-...-new", grace_until=grace_end
        )
        assert new is not None and new.spend == 1.5 and new.key_alias == "rot"

        def label(found: KeyRecord | None) -> str | None:
            return None if found is None else found.token

        return [
            label(await db.keys.get(old.token)),
            label(await db.keys.resolve(token("sk-new"), now=NOW)),
            label(await db.keys.resolve(old.token, now=NOW)),
            label(await db.keys.resolve(old.token, now=grace_end + timedelta(seconds=1))),
        ]

    assert backend.run(scenario) == [None, token("sk-new"), token("sk-new"), None]


def test_regenerate_without_grace_revokes_old_token_at_once(backend: Backend) -> None:
    """Without a grace period the old token stops authenticating immediately."""

    async def scenario(db: Database) -> KeyRecord | None:
        await db.keys.create(key("sk-old"))
        await db.keys.regenerate(token("sk-old"), new_token=token("sk-new"), new_key_name="sk-...-new")
        return await db.keys.resolve(token("sk-old"))

    assert backend.run(scenario) is None


def test_regenerating_twice_keeps_first_grace_pointing_at_newest(backend: Backend) -> None:
    """A token still in grace follows the key through a second regeneration."""
    grace_end = NOW + timedelta(hours=1)

    async def scenario(db: Database) -> KeyRecord | None:
        await db.keys.create(key("sk-1"))
        await db.keys.regenerate(
            token("sk-1"), new_token=token("sk-2"), new_key_name="n2", grace_until=grace_end
        )
        await db.keys.regenerate(
            token("sk-2"), new_token=token("sk-3"), new_key_name="n3", changes={"rpm_limit": 7}
        )
        return await db.keys.resolve(token("sk-1"), now=NOW)

    found = backend.run(scenario)
    assert found is not None and found.token == token("sk-3") and found.rpm_limit == 7


def test_regenerate_to_a_token_in_use_is_refused(backend: Backend) -> None:
    """A key cannot be regenerated into another key's token."""

    async def scenario(db: Database) -> KeyRecord | None:
        await db.keys.create(key("sk-a"))
        await db.keys.create(key("sk-b"))
        with pytest.raises(AlreadyExistsError):
            await db.keys.regenerate(token("sk-a"), new_token=token("sk-b"), new_key_name="x")
        return await db.keys.get(token("sk-a"))

    assert backend.run(scenario) is not None


def test_purge_forgets_only_long_revoked_tokens(backend: Backend) -> None:
    """Purging removes deprecated tokens revoked before the cutoff, not the ones after it."""

    async def scenario(db: Database) -> tuple[int, KeyRecord | None]:
        await db.keys.create(key("sk-a"))
        await db.keys.create(key("sk-b"))
        await db.keys.regenerate(token("sk-a"), new_token=token("sk-a2"), new_key_name="a", grace_until=NOW)
        late = NOW + timedelta(days=2)
        await db.keys.regenerate(token("sk-b"), new_token=token("sk-b2"), new_key_name="b", grace_until=late)
        purged = await db.keys.purge_deprecated(revoked_before=NOW + timedelta(days=1))
        return purged, await db.keys.resolve(token("sk-b"), now=NOW)

    purged, still_graced = backend.run(scenario)
    assert purged == 1 and still_graced is not None
