"""Users: create, get, update, delete and list rows of ``users``.

A key's ``user_id`` need not name a row here (a sandbox session is a user id without one); when
it does, the user's ``spend`` and budget apply. Deleting a user deletes their keys, as LiteLLM's
``/user/delete`` does.
"""

from __future__ import annotations

from sqlalchemy import delete

from bastion.store._archive import archive_keys
from bastion.store._owners import OwnerRepository
from bastion.store._transactions import writing
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
