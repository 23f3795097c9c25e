"""End users (LiteLLM's customers, ``/customer/*`` and ``/end_user/*``): who is on which plan.

An end user is the id a JWT's user claim, a browser token's ``user`` or a request's ``user``
field carries. A row here puts them on a plan (``budget_id``, checked to exist) and may block them;
without a row they are on the token's plan claim or the default plan. Changes are announced, so
every gateway process applies them on its next request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.administration.fields import Fields
from bastion.administration.plans import Notify, PlanService
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.store import Database, EndUserRecord, Page
from bastion.store.bounds import findable

__all__ = ["END_USER_FIELDS", "EndUserService", "end_user_not_found"]

END_USER_FIELDS = frozenset({"user_id", "alias", "budget_id", "blocked", "metadata"})
_PAGE = 500


async def _nobody() -> None:
    return None


def end_user_not_found(user_id: str) -> NotFoundError:
    return NotFoundError(f"End user '{user_id}' does not exist.", param="user_id", code="end_user_not_found")


class EndUserService:
    def __init__(self, database: Database, plans: PlanService, *, notify: Notify = _nobody) -> None:
        self._db = database
        self._plans = plans
        self._notify = notify

    async def create(self, body: Mapping[str, Any]) -> EndUserRecord:
        """Store an end user from ``/customer/new`` fields (``user_id`` required)."""
        fields = Fields(body)
        user_id = fields.text("user_id")
        if user_id is None:
            raise InvalidRequestError("Pass 'user_id', the end user's id.", param="user_id")
        record = await self._db.end_users.create(EndUserRecord(user_id, **await self._changes(fields)))
        await self._notify()
        return record

    async def get(self, user_id: str) -> EndUserRecord:
        found = await self.find(user_id)
        if found is None:
            raise end_user_not_found(user_id)
        return found

    async def find(self, user_id: str) -> EndUserRecord | None:
        return await self._db.end_users.get(user_id) if findable(user_id) else None

    async def page(self, *, page: int = 1, size: int = 10) -> Page[EndUserRecord]:
        return await self._db.end_users.list_end_users(page=page, size=size)

    async def all(self) -> list[EndUserRecord]:
        """Every end user, oldest first, read page by page."""
        found: list[EndUserRecord] = []
        number = 1
        while True:
            batch = await self._db.end_users.list_end_users(page=number, size=_PAGE)
            found.extend(batch.items)
            if len(batch.items) < _PAGE:
                return found
            number += 1

    async def update(self, body: Mapping[str, Any]) -> EndUserRecord:
        """Apply ``/customer/update`` fields (``user_id`` names the end user)."""
        fields = Fields(body)
        user_id = fields.text("user_id")
        if user_id is None:
            raise InvalidRequestError("Pass 'user_id', the end user to update.", param="user_id")
        changes = await self._changes(fields)
        if "budget_id" not in changes and "budget_id" in body and body["budget_id"] is None:
            changes["budget_id"] = None  # an explicit null takes the end user off their plan
        updated = await self._db.end_users.update(user_id, changes) if findable(user_id) else None
        if updated is None:
            raise end_user_not_found(user_id)
        await self._notify()
        return updated

    async def set_blocked(self, user_ids: Sequence[str], *, blocked: bool) -> list[str]:
        """Block (every request refused) or unblock end users; unknown ones are created blocked."""
        changed: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            if not findable(user_id):
                raise InvalidRequestError("Each user id must be a string of at most 255 characters.")
            if await self._db.end_users.update(user_id, {"blocked": blocked}) is None:
                await self._db.end_users.create(EndUserRecord(user_id, blocked=blocked))
            changed.append(user_id)
        await self._notify()
        return changed

    async def delete(self, user_ids: Sequence[str]) -> list[str]:
        """Delete end users; 404 (and nothing deleted) when one does not exist."""
        for user_id in user_ids:
            if await self.find(user_id) is None:
                raise end_user_not_found(user_id)
        deleted = [user_id for user_id in dict.fromkeys(user_ids) if await self._db.end_users.delete(user_id)]
        await self._notify()
        return deleted

    async def _changes(self, fields: Fields) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        alias = fields.text("alias")
        if alias is not None:
            changes["alias"] = alias
        plan_id = fields.text("budget_id")
        if plan_id is not None:
            if await self._plans.find(plan_id) is None:
                raise InvalidRequestError(
                    f"Plan '{plan_id}' does not exist; create it with /budget/new or in "
                    "bastion_settings.plans.",
                    param="budget_id",
                    code="budget_not_found",
                )
            changes["budget_id"] = plan_id
        blocked = fields.flag("blocked")
        if blocked is not None:
            changes["blocked"] = blocked
        metadata = fields.mapping("metadata")
        if metadata is not None:
            changes["metadata"] = metadata
        return changes
