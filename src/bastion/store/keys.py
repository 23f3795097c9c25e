"""Virtual keys: create, look up, update, delete, list and regenerate rows of ``verification_tokens``.

Keys are identified by ``token``, the SHA-256 hex of the key (hashing is :mod:`bastion.auth`'s
job; the store never sees a plaintext key). Regenerating changes a key's token in place and keeps
the old token in ``deprecated_tokens``: until its ``revoke_at`` it still authenticates (LiteLLM's
grace period), and afterwards it still routes late spend records to the key. Spend logs of the
key are re-pointed to the new token, so a key's ``spend`` is always the sum of the logs that
carry its current token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine

from bastion.domain.errors import BastionError, InvalidRequestError
from bastion.store._archive import archive_keys
from bastion.store._clock import Clock, utc_now
from bastion.store._mapping import checked_changes, record_from_row, record_values
from bastion.store._transactions import reading, writing
from bastion.store.errors import AlreadyExistsError
from bastion.store.records import KeyRecord, Page
from bastion.store.schema import deleted_tokens, deprecated_tokens, spend_logs, teams, verification_tokens

__all__ = ["KEY_UPDATABLE_FIELDS", "KeyRepository"]

#: Fields :meth:`KeyRepository.update` accepts; ``token`` changes only through ``regenerate``.
KEY_UPDATABLE_FIELDS = frozenset(
    {
        "key_alias",
        "team_id",
        "user_id",
        "models",
        "max_budget",
        "spend",
        "budget_duration",
        "budget_reset_at",
        "expires",
        "tpm_limit",
        "rpm_limit",
        "max_parallel_requests",
        "metadata",
        "blocked",
        "updated_by",
    }
)

_keys = verification_tokens


class KeyRepository:
    """Async access to virtual keys."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, key: KeyRecord) -> KeyRecord:
        """Insert ``key``; :class:`AlreadyExistsError` if its token or alias is taken."""
        now = self._clock()
        key = replace(key, created_at=key.created_at or now, updated_at=key.updated_at or now)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(insert(_keys).values(record_values(key)).returning(_keys))).one()
        except sa_exc.IntegrityError as exc:
            raise await self._conflict(key.token, key.key_alias, key.team_id) from exc
        return record_from_row(KeyRecord, row)

    async def get(self, token: str) -> KeyRecord | None:
        """The key whose current token is ``token``."""
        return await self._one(_keys.c.token == token)

    async def get_by_alias(self, key_alias: str) -> KeyRecord | None:
        return await self._one(_keys.c.key_alias == key_alias)

    async def resolve(self, token: str, *, now: datetime | None = None) -> KeyRecord | None:
        """The key ``token`` authenticates as: its own row, or the key it was regenerated into
        while the grace period lasts. Expiry and ``blocked`` are the caller's to check."""
        now = now or self._clock()
        graced = select(deprecated_tokens.c.active_token).where(
            deprecated_tokens.c.token == token, deprecated_tokens.c.revoke_at > now
        )
        return await self._one(or_(_keys.c.token == token, _keys.c.token.in_(graced)))

    async def graced_tokens(self, tokens: Sequence[str], *, now: datetime | None = None) -> list[str]:
        """The old tokens of these keys that still authenticate (a regeneration's grace period)."""
        if not tokens:
            return []
        now = now or self._clock()
        query = (
            select(deprecated_tokens.c.token)
            .where(deprecated_tokens.c.active_token.in_(list(tokens)), deprecated_tokens.c.revoke_at > now)
            .order_by(deprecated_tokens.c.token)
        )
        async with reading(self._engine) as conn:
            return list((await conn.execute(query)).scalars())

    async def end_grace(self, token: str) -> bool:
        """Stop the old token ``token`` authenticating now; whether it was still in its grace period.

        The row stays (as after any grace period), so late spend records still find their key.
        """
        now = self._clock()
        query = (
            update(deprecated_tokens)
            .where(deprecated_tokens.c.token == token, deprecated_tokens.c.revoke_at > now)
            .values(revoke_at=now)
        )
        async with writing(self._engine) as conn:
            return bool((await conn.execute(query)).rowcount)

    async def was_deleted(self, token: str) -> bool:
        """Whether a key with this token was deleted (to say so in the 401 message)."""
        query = select(deleted_tokens.c.id).where(deleted_tokens.c.token == token).limit(1)
        async with reading(self._engine) as conn:
            return (await conn.execute(query)).first() is not None

    async def update(self, token: str, changes: Mapping[str, Any]) -> KeyRecord | None:
        """Apply ``changes`` (names from :data:`KEY_UPDATABLE_FIELDS`); ``None`` if no such key."""
        values = checked_changes(changes, KEY_UPDATABLE_FIELDS)
        values["updated_at"] = self._clock()
        query = update(_keys).where(_keys.c.token == token).values(values).returning(_keys)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).first()
        except sa_exc.IntegrityError as exc:
            raise await self._conflict(token, values.get("key_alias"), values.get("team_id")) from exc
        return None if row is None else record_from_row(KeyRecord, row)

    async def delete(self, tokens: Sequence[str], *, deleted_by: str | None = None) -> list[str]:
        """Delete the keys with these tokens (audit copies kept); the tokens that existed, sorted."""
        if not tokens:
            return []
        async with writing(self._engine) as conn:
            return await archive_keys(
                conn, _keys.c.token.in_(list(tokens)), deleted_by=deleted_by, now=self._clock()
            )

    async def list_keys(
        self,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        key_alias: str | None = None,
        search: str | None = None,
        page: int = 1,
        size: int = 10,
    ) -> Page[KeyRecord]:
        """Keys matching every given filter, newest first; ``search`` is a piece of text found
        (in any case) in the alias, the masked name (``sk-...abcd``), the team or the user."""
        conditions: list[Any] = [
            column == value
            for column, value in (
                (_keys.c.user_id, user_id),
                (_keys.c.team_id, team_id),
                (_keys.c.key_alias, key_alias),
            )
            if value is not None
        ]
        if search:
            needle = search.lower()
            conditions.append(
                or_(
                    *(
                        func.lower(column).contains(needle, autoescape=True)
                        for column in (_keys.c.key_alias, _keys.c.key_name, _keys.c.team_id, _keys.c.user_id)
                    )
                )
            )
        count = select(func.count()).select_from(_keys).where(*conditions)
        query = (
            select(_keys)
            .where(*conditions)
            .order_by(_keys.c.created_at.desc(), _keys.c.token)
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        async with reading(self._engine) as conn:
            total = (await conn.execute(count)).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(KeyRecord, r) for r in rows), total, page, size)

    async def find_by_prefix(self, prefix: str) -> list[KeyRecord]:
        """Keys whose token starts with ``prefix`` (at most two: callers want exactly one).

        The dashboard names a key by a prefix of its hash, so it never shows a stored hash whole.
        """
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return []
        query = select(_keys).where(_keys.c.token.startswith(prefix, autoescape=True)).limit(2)
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [record_from_row(KeyRecord, r) for r in rows]

    async def regenerate(
        self,
        token: str,
        *,
        new_token: str,
        new_key_name: str,
        grace_until: datetime | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> KeyRecord | None:
        """Give the key a new token; the old one works until ``grace_until`` (never, if ``None``).

        ``changes`` may update other fields at the same time. ``None`` if no key has ``token``.
        """
        now = self._clock()
        values = checked_changes(changes or {}, KEY_UPDATABLE_FIELDS)
        values.update(token=new_token, key_name=new_key_name, updated_at=now)
        query = update(_keys).where(_keys.c.token == token).values(values).returning(_keys)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).first()
                if row is None:
                    return None
                await conn.execute(
                    insert(deprecated_tokens).values(
                        token=token, active_token=new_token, revoke_at=grace_until or now, created_at=now
                    )
                )
                await conn.execute(
                    update(spend_logs).where(spend_logs.c.api_key == token).values(api_key=new_token)
                )
        except sa_exc.IntegrityError as exc:
            raise await self._conflict(new_token, values.get("key_alias"), values.get("team_id")) from exc
        return record_from_row(KeyRecord, row)

    async def purge_deprecated(self, *, revoked_before: datetime) -> int:
        """Forget old tokens whose grace ended before ``revoked_before``; how many were removed.

        Keep them well past the grace period (a day), so late spend records still find their key.
        """
        query = deprecated_tokens.delete().where(deprecated_tokens.c.revoke_at < revoked_before)
        async with writing(self._engine) as conn:
            return (await conn.execute(query)).rowcount

    async def _one(self, condition: Any) -> KeyRecord | None:
        async with reading(self._engine) as conn:
            row = (await conn.execute(select(_keys).where(condition))).first()
        return None if row is None else record_from_row(KeyRecord, row)

    async def _conflict(self, token: str, key_alias: str | None, team_id: str | None) -> BastionError:
        """Which constraint a failed write hit, as an error a person can act on."""
        async with reading(self._engine) as conn:
            return await _diagnose(conn, token, key_alias, team_id)


async def _diagnose(
    conn: AsyncConnection, token: str, key_alias: str | None, team_id: str | None
) -> BastionError:
    if key_alias is not None:
        owner = select(_keys.c.token).where(_keys.c.key_alias == key_alias, _keys.c.token != token)
        if (await conn.execute(owner)).first() is not None:
            return AlreadyExistsError(
                f"A key with key_alias '{key_alias}' already exists; aliases must be unique.",
                param="key_alias",
                code="key_alias_exists",
            )
    taken = select(_keys.c.token).where(_keys.c.token == token)
    if (await conn.execute(taken)).first() is not None:
        return AlreadyExistsError("This key already exists.", param="key", code="key_exists")
    taken = select(deprecated_tokens.c.token).where(deprecated_tokens.c.token == token)
    if (await conn.execute(taken)).first() is not None:
        return AlreadyExistsError("This key was used before and cannot be reused.", param="key")
    if team_id is not None:
        team = select(teams.c.team_id).where(teams.c.team_id == team_id)
        if (await conn.execute(team)).first() is None:
            return InvalidRequestError(f"Team '{team_id}' does not exist.", param="team_id")
    return AlreadyExistsError("The key conflicts with an existing one.")
