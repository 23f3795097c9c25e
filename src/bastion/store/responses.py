"""The Responses API's stored responses: saved, read and deleted by their owner, until they expire.

A row is visible while ``expires_at`` is in the future; expired rows are deleted by
:meth:`ResponseRepository.purge_expired`, which the gateway runs now and then as it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._transactions import reading, writing
from bastion.store.schema import stored_responses

__all__ = ["ResponseRepository", "StoredResponseRow"]


@dataclass(frozen=True, slots=True)
class StoredResponseRow:
    response_id: str
    owner: str
    model: str
    status: str
    #: The response object and the whole input, as JSON text.
    body: str
    input: str
    created_at: datetime
    expires_at: datetime


class ResponseRepository:
    """Async access to the ``responses`` table."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def save(self, row: StoredResponseRow) -> None:
        values = {
            "response_id": row.response_id,
            "owner": row.owner,
            "model": row.model,
            "status": row.status,
            "body": row.body,
            "input": row.input,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
        }
        async with writing(self._engine) as conn:
            await conn.execute(
                delete(stored_responses).where(stored_responses.c.response_id == row.response_id)
            )
            await conn.execute(insert(stored_responses).values(**values))

    async def get(self, response_id: str) -> StoredResponseRow | None:
        """The row, unless it does not exist or has expired."""
        t = stored_responses
        query = select(t).where(t.c.response_id == response_id, t.c.expires_at > self._clock())
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else StoredResponseRow(**dict(row))

    async def delete(self, response_id: str) -> bool:
        t = stored_responses
        async with writing(self._engine) as conn:
            result = await conn.execute(delete(t).where(t.c.response_id == response_id))
        return bool(result.rowcount)

    async def purge_expired(self) -> int:
        """Delete every expired row; how many went."""
        t = stored_responses
        async with writing(self._engine) as conn:
            result = await conn.execute(delete(t).where(t.c.expires_at <= self._clock()))
        return int(result.rowcount or 0)
