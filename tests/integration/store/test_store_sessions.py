"""Logged-out dashboard sessions in the store: recorded once, found, and purged after they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store_backends import Backend

from bastion.store import Database
from bastion.store.schema import revoked_sessions


def test_a_revoked_session_is_found_until_it_expires_and_is_purged(backend: Backend) -> None:
    """revoke is idempotent; is_revoked finds it; a later revoke purges rows already expired."""
    now = datetime.now(UTC)

    async def scenario(db: Database) -> tuple[bool, bool, bool, int]:
        await db.sessions.revoke("a" * 64, expires_at=now + timedelta(hours=8))
        await db.sessions.revoke("a" * 64, expires_at=now + timedelta(hours=8))  # a second logout
        await db.sessions.revoke("b" * 64, expires_at=now - timedelta(seconds=1))  # already expired
        found = await db.sessions.is_revoked("a" * 64)
        other = await db.sessions.is_revoked("c" * 64)
        await db.sessions.revoke("c" * 64, expires_at=now + timedelta(hours=1))
        expired = await db.sessions.is_revoked("b" * 64)
        async with db.engine.connect() as conn:
            rows = len((await conn.execute(revoked_sessions.select())).all())
        return found, other, expired, rows

    found, other, expired, rows = backend.run(scenario)
    assert found and not other
    assert not expired and rows == 2  # the expired row went with the next logout
