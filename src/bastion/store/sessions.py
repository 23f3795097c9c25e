"""Dashboard sessions that were logged out: recorded until their cookie would have expired.

The session cookie is signed, so any process accepts it without a lookup; this table is what makes
a logout hold on every process (and every host sharing the database): the dashboard refuses a
session recorded here. Rows outlive nothing: each is purged once its cookie has expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._dialects import insert_into
from bastion.store._transactions import reading, writing
from bastion.store.schema import revoked_sessions

__all__ = ["SessionRepository"]


class SessionRepository:
    """Async access to ``revoked_sessions``; a session is named by the SHA-256 hex of its nonce."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def revoke(self, session_id: str, *, expires_at: datetime) -> None:
        """Record a logged-out session (again: no error) and purge the rows already expired."""
        query = (
            insert_into(revoked_sessions, self._engine.dialect.name)
            .values(session_id=session_id, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["session_id"])
        )
        async with writing(self._engine) as conn:
            await conn.execute(query)
            await conn.execute(delete(revoked_sessions).where(revoked_sessions.c.expires_at <= self._clock()))

    async def is_revoked(self, session_id: str) -> bool:
        query = select(revoked_sessions.c.session_id).where(revoked_sessions.c.session_id == session_id)
        async with reading(self._engine) as conn:
            return (await conn.execute(query)).first() is not None
