"""Conversation state of the Responses API: stored responses, scoped to who created them.

A response created with ``store`` (the default, as at OpenAI) is kept with its whole input for
``bastion_settings.response_retention_days``. Only its owner reads, continues or deletes it: the
virtual key that created it (a browser token counts as the key that minted it), the end user of a
JWT, the static key; the master key reads every response. Anyone else gets the same 404 as for an
id that never existed, so ids cannot be probed.

Expired rows are invisible at once and deleted in the background, at most once a minute, as
responses are saved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bastion import tasks
from bastion.domain.errors import BastionError, NotFoundError
from bastion.domain.principal import Principal
from bastion.store.bounds import findable
from bastion.store.responses import ResponseRepository, StoredResponseRow

__all__ = ["ResponseStore", "StoredResponse", "owner_of"]

_log = logging.getLogger("bastion.gateway")
_PURGE_EVERY_SECONDS = 60.0

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def owner_of(principal: Principal) -> str:
    """The scope a principal's stored responses belong to."""
    if principal.key_hash:
        return f"key:{principal.key_hash}"
    if principal.kind == "jwt" and principal.user_id:
        return f"user:{principal.user_id}"
    return f"{principal.kind}:{principal.label}"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]
    input: list[dict[str, Any]]


class ResponseStore:
    """Save, read and delete stored responses for a principal."""

    def __init__(
        self, repository: ResponseRepository, *, retention_days: float, clock: Clock = _utc_now
    ) -> None:
        self._repo = repository
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        self._last_purge = 0.0

    async def save(
        self, principal: Principal, response: dict[str, Any], input_items: list[dict[str, Any]]
    ) -> None:
        """Keep ``response`` for its owner. A database failure is logged, not raised: the client
        already has its answer, only continuing from it will fail."""
        now = self._clock()
        row = StoredResponseRow(
            response_id=str(response["id"]),
            owner=owner_of(principal),
            model=str(response.get("model") or ""),
            status=str(response.get("status") or ""),
            body=orjson.dumps(response).decode(),
            input=orjson.dumps(input_items).decode(),
            created_at=now,
            expires_at=now + self._retention,
        )
        try:
            await self._repo.save(row)
        except BastionError as err:
            _log.warning("could not store response %s: %s", row.response_id, err)
            return
        except Exception:  # the answer must still reach the client whatever the database says
            _log.exception("could not store response %s", row.response_id)
            return
        if time.monotonic() - self._last_purge >= _PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            tasks.spawn(self._purge(), name="responses-purge")

    async def _purge(self) -> None:
        try:
            count = await self._repo.purge_expired()
        except BastionError as err:
            _log.warning("could not delete expired responses: %s", err)
            return
        if count:
            _log.info("deleted %d expired stored responses", count)

    async def purge_expired(self) -> int:
        """Delete every expired response now (tests, operators)."""
        return await self._repo.purge_expired()

    async def load(self, principal: Principal, response_id: str) -> StoredResponse:
        """The stored response, or :class:`NotFoundError` when it is missing, expired or not the
        caller's."""
        # An id no row can have (NUL, too long) is simply not found; PostgreSQL would refuse the query.
        row = await self._repo.get(response_id) if findable(response_id) else None
        if row is None or not (principal.is_admin or row.owner == owner_of(principal)):
            raise NotFoundError(f"Response with id '{response_id}' not found.", param="response_id")
        return StoredResponse(orjson.loads(row.body), orjson.loads(row.input))

    async def delete(self, principal: Principal, response_id: str) -> None:
        await self.load(principal, response_id)  # the same 404 for missing and foreign ones
        await self._repo.delete(response_id)
