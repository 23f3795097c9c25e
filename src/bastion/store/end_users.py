"""End users (LiteLLM's customers): create, get, update, delete and list rows of ``end_users``."""

from __future__ import annotations

from sqlalchemy import delete, exists, select

from bastion.store._owners import OwnerRepository
from bastion.store._transactions import reading, writing
from bastion.store.records import EndUserRecord, Page
from bastion.store.schema import end_users

__all__ = ["END_USER_UPDATABLE_FIELDS", "EndUserRepository"]

END_USER_UPDATABLE_FIELDS = frozenset({"alias", "budget_id", "blocked", "metadata"})


class EndUserRepository(OwnerRepository[EndUserRecord]):
    """Async access to end users."""

    _table = end_users
    _id = "user_id"
    _record = EndUserRecord
    _updatable = END_USER_UPDATABLE_FIELDS
    _noun = "end_user"

    async def any(self) -> bool:
        """Whether there is at least one end user (one indexed probe, whatever the table's size)."""
        async with reading(self._engine) as conn:
            return bool((await conn.execute(select(exists().select_from(end_users)))).scalar())

    async def delete(self, user_id: str) -> bool:
        """Delete the end user; whether there was one."""
        async with writing(self._engine) as conn:
            result = await conn.execute(delete(end_users).where(end_users.c.user_id == user_id))
        return bool(result.rowcount)

    async def list_end_users(self, *, page: int = 1, size: int = 10) -> Page[EndUserRecord]:
        """End users, oldest first."""
        return await self._page(page, size)
