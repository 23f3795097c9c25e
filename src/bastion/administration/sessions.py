"""Dashboard sessions that ended: a logout is recorded so that every process refuses the cookie.

The session cookie is signed and carries its own expiry, so it is checked without a lookup; what a
signature cannot say is that its owner logged out. :meth:`SessionRevocations.end` records that in
the database every gateway process shares (one host with ``--workers``, or many hosts on
PostgreSQL), and the dashboard asks :meth:`SessionRevocations.ended` on each request. The
dashboard is not the hot path: one primary-key lookup per page.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bastion.store.database import Database

__all__ = ["SessionRevocations"]


def _session_id(nonce: str) -> str:
    # The nonce is half of what the cookie proves; the table keeps only its hash.
    return hashlib.sha256(nonce.encode()).hexdigest()


class SessionRevocations:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def end(self, nonce: str, *, expires_at: float) -> None:
        """Refuse the session with this nonce from now on, until it would have expired anyway."""
        await self._db.sessions.revoke(_session_id(nonce), expires_at=datetime.fromtimestamp(expires_at, UTC))

    async def ended(self, nonce: str) -> bool:
        """Whether the session with this nonce was logged out."""
        return await self._db.sessions.is_revoked(_session_id(nonce))
