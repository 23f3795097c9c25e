"""Stored provider keys: each user's own (bring-your-own-key) and the system's, both sealed.

Rows hold envelope ciphertext and the masked form only; sealing and opening happen above the
store (:mod:`bastion.secrets`). :meth:`ProviderKeyRepository.all_sealed` and
:meth:`ProviderKeyRepository.replace_ciphertext` serve the key rotation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._dialects import insert_into
from bastion.store._transactions import reading, writing
from bastion.store.records import SealedKeyRecord
from bastion.store.schema import system_provider_keys, user_provider_keys

__all__ = ["ProviderKeyRepository"]

_BATCH = 200


class ProviderKeyRepository:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def put(self, record: SealedKeyRecord) -> None:
        """Insert or replace the key of (owner, provider)."""
        now = self._clock()
        table = _table(record.owner)
        values: dict[str, object] = {
            "provider": record.provider,
            "ciphertext": record.ciphertext,
            "masked": record.masked,
            "created_at": now,
            "updated_at": now,
        }
        changes = {"ciphertext": record.ciphertext, "masked": record.masked, "updated_at": now}
        if record.owner is None:
            values["updated_by"] = changes["updated_by"] = record.updated_by
            conflict = ["provider"]
        else:
            values["user_id"] = record.owner
            conflict = ["user_id", "provider"]
        async with writing(self._engine) as conn:
            query = insert_into(table, conn.dialect.name).values(values)
            await conn.execute(query.on_conflict_do_update(index_elements=conflict, set_=changes))

    async def list_for(self, owner: str | None) -> list[SealedKeyRecord]:
        """The keys of a user (``None``: the system keys), by provider."""
        table = _table(owner)
        query = select(table).order_by(table.c.provider)
        if owner is not None:
            query = query.where(table.c.user_id == owner)
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        return [_record(owner, row._mapping) for row in rows]

    async def delete(self, owner: str | None, provider: str | None = None) -> list[str]:
        """Remove one provider's key, or all of them; the providers removed."""
        table = _table(owner)
        query = delete(table).returning(table.c.provider)
        if owner is not None:
            query = query.where(table.c.user_id == owner)
        if provider is not None:
            query = query.where(table.c.provider == provider)
        async with writing(self._engine) as conn:
            return sorted((await conn.execute(query)).scalars())

    async def all_sealed(self) -> AsyncIterator[SealedKeyRecord]:
        """Every stored key, system keys first, in pages (for re-encryption)."""
        for table in (system_provider_keys, user_provider_keys):
            order = (
                [table.c.provider] if table is system_provider_keys else [table.c.user_id, table.c.provider]
            )
            offset = 0
            while True:
                query = select(table).order_by(*order).limit(_BATCH).offset(offset)
                async with reading(self._engine) as conn:
                    rows = (await conn.execute(query)).all()
                for row in rows:
                    mapping = row._mapping
                    yield _record(mapping.get("user_id"), mapping)
                if len(rows) < _BATCH:
                    break
                offset += _BATCH

    async def replace_ciphertext(self, record: SealedKeyRecord, ciphertext: str) -> bool:
        """Swap in a re-encrypted ciphertext, unless the row changed meanwhile (compare-and-set)."""
        table = _table(record.owner)
        query = update(table).where(
            table.c.provider == record.provider, table.c.ciphertext == record.ciphertext
        )
        if record.owner is not None:
            query = query.where(table.c.user_id == record.owner)
        async with writing(self._engine) as conn:
            result = await conn.execute(query.values(ciphertext=ciphertext))
        return bool(result.rowcount)


def _table(owner: str | None) -> Table:
    return system_provider_keys if owner is None else user_provider_keys


def _record(owner: str | None, mapping: object) -> SealedKeyRecord:
    row = dict(mapping)  # type: ignore[call-overload]
    return SealedKeyRecord(
        owner=owner,
        provider=row["provider"],
        ciphertext=row["ciphertext"],
        masked=row["masked"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        updated_by=row.get("updated_by"),
    )
