"""Deleting keys: each deleted row is copied to ``deleted_tokens`` in the same transaction.

Shared by key, team and user deletion (LiteLLM deletes a team's or a user's keys with it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.ext.asyncio.engine import AsyncConnection

from bastion.store.schema import deleted_tokens, verification_tokens

__all__ = ["archive_keys"]

_COPIED = [c.name for c in verification_tokens.columns]


async def archive_keys(
    conn: AsyncConnection,
    condition: ColumnElement[bool],
    *,
    deleted_by: str | None,
    now: datetime,
) -> list[str]:
    """Delete the keys matching ``condition``, keep an audit copy of each; their hashes, sorted."""
    keys = verification_tokens
    rows = (await conn.execute(select(keys).where(condition).order_by(keys.c.token))).all()
    if not rows:
        return []
    copies: list[dict[str, Any]] = []
    for row in rows:
        copy = {name: row._mapping[name] for name in _COPIED}
        copy.update(id=uuid.uuid4().hex, deleted_at=now, deleted_by=deleted_by)
        copies.append(copy)
    await conn.execute(insert(deleted_tokens), copies)
    tokens = [row.token for row in rows]
    await conn.execute(delete(keys).where(keys.c.token.in_(tokens)))
    return tokens
