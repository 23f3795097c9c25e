"""The Responses API's stored responses: saved, read and deleted by their owner, until they expire.

A row is visible while ``expires_at`` is in the future; expired rows are deleted by
:meth:`ResponseRepository.purge_expired`, which the gateway runs now and then as it saves.

Every response is saved before its answer's last byte, so saves are group-committed
(:mod:`bastion.store._group_commit`): the saves of concurrent requests share one write transaction,
one ``DELETE ... WHERE response_id IN (...)`` and one bulk ``INSERT``, both statements of a fixed
text whatever the batch size. Reads take a connection of their own and never wait for a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._bulk_insert import RecordsetInsert, member_of
from bastion.store._clock import Clock, utc_now
from bastion.store._group_commit import GroupCommit
from bastion.store._transactions import reading, writing
from bastion.store.schema import stored_responses

__all__ = ["ResponseRepository", "StoredResponseRow"]

_BULK = RecordsetInsert(stored_responses, stored_responses.c.response_id)


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
        self._saves: GroupCommit[StoredResponseRow] = GroupCommit(
            self._save_batch, name="responses", size=lambda row: len(row.body) + len(row.input)
        )

    async def save(self, row: StoredResponseRow) -> None:
        """Store ``row`` (replacing a row of its id); returns once it is committed, together with
        the saves of concurrent callers. A failure of that transaction is raised to each of them;
        a row the database refuses fails its own save only."""
        await self._saves.submit(row)

    async def _save_batch(self, rows: list[StoredResponseRow]) -> None:
        """One transaction: delete the rows' ids, insert the rows (the last save of an id wins)."""
        latest = {row.response_id: row for row in rows}
        values = [_values(latest[key]) for key in sorted(latest)]
        t = stored_responses
        async with writing(self._engine) as conn:
            dialect = conn.dialect
            await conn.execute(delete(t).where(member_of(t.c.response_id, latest.keys(), dialect)))
            if dialect.name == "postgresql":
                await conn.execute(_BULK.statement(dialect), _BULK.parameters(values, dialect))
            else:  # SQLite: one writer at a time (BEGIN IMMEDIATE); a prepared single-row executemany
                await conn.exec_driver_sql(_BULK.sqlite_statement(), _BULK.sqlite_parameters(values))

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


def _values(row: StoredResponseRow) -> dict[str, object]:
    return {
        "response_id": row.response_id,
        "owner": row.owner,
        "model": row.model,
        "status": row.status,
        "body": row.body,
        "input": row.input,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }
