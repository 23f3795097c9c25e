"""Users: create, get, update, delete and list rows of ``users``.

A key's ``user_id`` need not name a row here (a sandbox session is a user id without one); when
it does, the user's ``spend`` and budget apply. Deleting a user deletes their keys, as LiteLLM's
``/user/delete`` does.
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
from bastion.store.records import Page, UserRecord
from bastion.store.schema import users, verification_tokens

__all__ = ["USER_UPDATABLE_FIELDS", "UserRepository"]

USER_UPDATABLE_FIELDS = frozenset(
    {
        "user_email",
        "user_alias",
        "user_role",
        "teams",
        "models",
        "max_budget",
        "spend",
        "budget_duration",
        "budget_reset_at",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "metadata",
    }
)


class UserRepository:
    """Async access to users."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, user: UserRecord) -> UserRecord:
        """Insert ``user``; :class:`AlreadyExistsError` if its ``user_id`` is taken."""
        now = self._clock()
        user = replace(user, created_at=user.created_at or now, updated_at=user.updated_at or now)
        query = insert(users).values(record_values(user)).returning(users)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).one()
        except sa_exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"A user with user_id '{user.user_id}' already exists.", param="user_id", code="user_exists"
            ) from exc
        return record_from_row(UserRecord, row)

    async def get(self, user_id: str) -> UserRecord | None:
        async with reading(self._engine) as conn:
            row = (await conn.execute(select(users).where(users.c.user_id == user_id))).first()
        return None if row is None else record_from_row(UserRecord, row)

    async def update(self, user_id: str, changes: Mapping[str, Any]) -> UserRecord | None:
        """Apply ``changes`` (names from :data:`USER_UPDATABLE_FIELDS`); ``None`` if no such user."""
        values = checked_changes(changes, USER_UPDATABLE_FIELDS)
        values["updated_at"] = self._clock()
        query = update(users).where(users.c.user_id == user_id).values(values).returning(users)
        async with writing(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else record_from_row(UserRecord, row)

    async def delete(self, user_id: str, *, deleted_by: str | None = None) -> list[str] | None:
        """Delete the user and their keys; the deleted keys' tokens, or ``None`` if no such user."""
        async with writing(self._engine) as conn:
            result = await conn.execute(delete(users).where(users.c.user_id == user_id))
            if result.rowcount == 0:
                return None
            return await archive_keys(
                conn, verification_tokens.c.user_id == user_id, deleted_by=deleted_by, now=self._clock()
            )

    async def list_users(self, *, page: int = 1, size: int = 10) -> Page[UserRecord]:
        """Users, oldest first."""
        query = (
            select(users)
            .order_by(users.c.created_at, users.c.user_id)
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        async with reading(self._engine) as conn:
            total = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(UserRecord, r) for r in rows), total, page, size)
