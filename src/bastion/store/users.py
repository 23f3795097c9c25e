"""Users: create, get, update, delete and list rows of ``users``.

A key's ``user_id`` need not name a row here (a sandbox session is a user id without one); when
it does, the user's ``spend`` and budget apply. Deleting a user deletes their keys, as LiteLLM's
``/user/delete`` does.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bastion.store._archive import archive_keys
from bastion.store._mapping import record_from_row
from bastion.store._owners import OwnerRepository
from bastion.store._transactions import reading, writing
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
        "password_hash",
        "full_name",
        "is_active",
        "is_superuser",
    }
)


class UserRepository(OwnerRepository[UserRecord]):
    """Async access to users."""

    _table = users
    _id = "user_id"
    _record = UserRecord
    _updatable = USER_UPDATABLE_FIELDS
    _noun = "user"

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
        return await self._page(page, size)

    async def get_by_login(self, email: str) -> UserRecord | None:
        """The user who logs in with ``email`` (compared lower-case; only users with a password)."""
        query = select(users).where(
            func.lower(users.c.user_email) == email.strip().lower(), users.c.password_hash.is_not(None)
        )
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else record_from_row(UserRecord, row)

    async def list_accounts(self, *, page: int = 1, size: int = 100) -> Page[UserRecord]:
        """Users who can log in, oldest first."""
        where = users.c.password_hash.is_not(None)
        query = (
            select(users)
            .where(where)
            .order_by(users.c.created_at, users.c.user_id)
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        async with reading(self._engine) as conn:
            total = (await conn.execute(select(func.count()).select_from(users).where(where))).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(UserRecord, r) for r in rows), total, page, size)
